//! Gamification (the plan's): points, streaks of active days and
//! achievements per member, by the rules in `data/gamification.toml`, kept
//! in the workspace document so teammates see them. Recording never gets
//! in the way of the work it counts: a failure is logged, not returned.

use std::{collections::BTreeMap, sync::OnceLock};

use rf_domain::{DueDate, MemberStats, Timestamp, UserId, WorkspaceId};
use serde::{Deserialize, Serialize};

use crate::{Core, CoreError, Result};

const RULES_TOML: &str = include_str!("../data/gamification.toml");

/// The actions that count.
pub const ACTIONS: [&str; 6] = ["move_done", "asset_approved", "approval", "plan_approved", "onboarding_approved", "digest_shared"];

/// The rules: points per action and per active day, the streak bonus, the
/// achievements.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    points: BTreeMap<String, u64>,
    streak_bonus: StreakBonus,
    #[serde(rename = "achievement", default)]
    achievements: Vec<AchievementRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreakBonus {
    every: u64,
    points: u64,
}

/// An achievement: earned at the `count`th time of `action`, or at a
/// streak of `streak` days.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AchievementRule {
    pub id: String,
    pub name: String,
    action: Option<String>,
    count: Option<u64>,
    streak: Option<u64>,
}

impl Rules {
    /// Parses and checks rules.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let rules: Rules = toml::from_str(text).map_err(|err| err.message().to_owned())?;
        for key in rules.points.keys() {
            if key != "active_day" && !ACTIONS.contains(&key.as_str()) {
                return Err(format!("points.{key}: not an action ({}, or active_day)", ACTIONS.join(", ")));
            }
        }
        let mut seen = Vec::new();
        for rule in &rules.achievements {
            let fail = |message: String| Err(format!("achievement {:?}: {message}", rule.id));
            if seen.contains(&&rule.id) {
                return fail("the id is used twice".into());
            }
            seen.push(&rule.id);
            match (&rule.action, rule.count, rule.streak) {
                (Some(action), Some(count), None) if ACTIONS.contains(&action.as_str()) && count > 0 => {}
                (Some(action), Some(_), None) if !ACTIONS.contains(&action.as_str()) => return fail(format!("{action:?} is not an action")),
                (None, None, Some(days)) if days > 0 => {}
                _ => return fail("give either `action` and a `count` of at least 1, or a `streak` of at least 1 day".into()),
            }
        }
        Ok(rules)
    }

    /// The rules that ship with RaptorFlow.
    pub fn builtin() -> &'static Rules {
        static RULES: OnceLock<Rules> = OnceLock::new();
        RULES.get_or_init(|| Rules::parse(RULES_TOML).expect("data/gamification.toml is checked by its test"))
    }

    /// An achievement's name.
    pub fn name(&self, id: &str) -> Option<&str> {
        self.achievements.iter().find(|a| a.id == id).map(|a| a.name.as_str())
    }
}

/// What one action earned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Award {
    pub points: u64,
    /// Achievement ids earned just now.
    pub achievements: Vec<String>,
}

/// Counts `action` done at `now` into `stats`: its points, the day's (once a
/// day), the streak and its bonus, and the achievements it completes.
pub fn award(rules: &Rules, stats: &mut MemberStats, action: &str, now: Timestamp) -> Award {
    let mut award = Award { points: rules.points.get(action).copied().unwrap_or(0), achievements: Vec::new() };
    *stats.counts.entry(action.to_owned()).or_default() += 1;
    let today = DueDate::days_after(now, 0).to_string();
    if stats.last_active != today {
        let yesterday = DueDate::days_after(now, -1).to_string();
        stats.streak_days = if stats.last_active == yesterday { stats.streak_days + 1 } else { 1 };
        stats.last_active = today;
        award.points += rules.points.get("active_day").copied().unwrap_or(0);
        if rules.streak_bonus.every > 0 && stats.streak_days.is_multiple_of(rules.streak_bonus.every) {
            award.points += rules.streak_bonus.points;
        }
    }
    stats.points += award.points;
    for rule in &rules.achievements {
        if stats.achievements.contains(&rule.id) {
            continue;
        }
        let earned = match (&rule.action, rule.count, rule.streak) {
            (Some(action), Some(count), _) => stats.counts.get(action).copied().unwrap_or(0) >= count,
            (_, _, Some(days)) => stats.streak_days >= days,
            _ => false,
        };
        if earned {
            stats.achievements.push(rule.id.clone());
            award.achievements.push(rule.id.clone());
        }
    }
    award
}

/// One member's standing, for `raptorflow stats` and the app's panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MemberScore {
    pub user_id: UserId,
    pub display_name: String,
    pub stats: MemberStats,
    /// The achievements' names, in the order they were earned.
    pub achievement_names: Vec<String>,
}

impl Core {
    /// Counts `action`, done by the local user, in `workspace`'s document.
    /// Never fails the work it counts: a problem is logged.
    pub(crate) async fn record_activity(&self, workspace: WorkspaceId, action: &'static str) {
        let user = self.user().id.clone();
        let result = self
            .update_index(workspace, format!("gamification: {action}"), move |index| {
                if !index.members.contains_key(&user) {
                    return Ok(None);
                }
                let stats = index.gamification.entry(user).or_default();
                Ok(Some(award(Rules::builtin(), stats, action, Timestamp::now())))
            })
            .await;
        match result {
            Ok(Some(award)) if !award.achievements.is_empty() => tracing::info!(%workspace, action, ?award, "achievement earned"),
            Ok(_) => {}
            Err(err) => tracing::warn!(%workspace, action, "the activity could not be counted: {err}"),
        }
    }

    /// Every member's points, streak and achievements, highest first.
    pub async fn stats(&self, workspace: WorkspaceId) -> Result<Vec<MemberScore>> {
        let index = self.workspace(workspace).await?;
        let rules = Rules::builtin();
        let mut scores: Vec<MemberScore> = index
            .members
            .iter()
            .map(|(id, member)| {
                let stats = index.gamification.get(id).cloned().unwrap_or_default();
                let achievement_names = stats.achievements.iter().map(|a| rules.name(a).unwrap_or(a).to_owned()).collect();
                MemberScore { user_id: id.clone(), display_name: member.display_name.clone(), stats, achievement_names }
            })
            .collect();
        scores.sort_by(|a, b| b.stats.points.cmp(&a.stats.points).then_with(|| a.user_id.cmp(&b.user_id)));
        Ok(scores)
    }

    /// Answers a run's approval step as the local user (see
    /// [`rf_agents::Runtime::decide`]), counting it for gamification.
    pub async fn decide_approval(&self, run: rf_domain::RunId, step: u32, approved: bool, note: Option<&str>) -> Result<()> {
        let swarm = self.swarm().await?;
        swarm.decide(run, step, approved, note).await.map_err(CoreError::from)?;
        if let Some(workspace) = swarm.store().run(run).await?.workspace_id {
            self.record_activity(workspace, "approval").await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn the_shipped_rules_parse() {
        let rules = Rules::parse(RULES_TOML).unwrap();
        assert!(rules.achievements.len() >= 5);
        assert_eq!(rules.name("first-move-done"), Some("First move shipped"));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        let base = "[points]\nmove_done = 1\n[streak_bonus]\nevery = 7\npoints = 1\n";
        assert!(
            Rules::parse(&format!("{base}[[achievement]]\nid = \"a\"\nname = \"A\"\naction = \"dancing\"\ncount = 1\n"))
                .unwrap_err()
                .contains("\"dancing\" is not an action")
        );
        assert!(Rules::parse(&format!("{base}[[achievement]]\nid = \"a\"\nname = \"A\"\nstreak = 0\n")).unwrap_err().contains("at least 1"));
        assert!(Rules::parse("[points]\nflying = 1\n[streak_bonus]\nevery = 1\npoints = 1\n").unwrap_err().contains("points.flying"));
    }

    #[test]
    fn actions_days_and_streaks_add_up() {
        let rules = Rules::builtin();
        let mut stats = MemberStats::default();
        let monday = Timestamp(20_000 * DAY + 9 * 3_600_000);
        let first = award(rules, &mut stats, "move_done", monday);
        assert_eq!(first, Award { points: 10 + 1, achievements: vec!["first-move-done".into()] });
        // The same day again: no day point, no second "first".
        let again = award(rules, &mut stats, "move_done", Timestamp(monday.0 + 3_600_000));
        assert_eq!(again, Award { points: 10, achievements: vec![] });
        assert_eq!((stats.streak_days, stats.counts["move_done"]), (1, 2));
        // Six more days in a row: the streak reaches 7, with its bonus and achievement.
        let mut last = Award::default();
        for day in 1..=6 {
            last = award(rules, &mut stats, "approval", Timestamp(monday.0 + day * DAY));
        }
        assert_eq!(stats.streak_days, 7);
        assert_eq!(last.points, 2 + 1 + 20);
        assert!(last.achievements.contains(&"week-streak".to_owned()), "{last:?}");
        // A day missed: the streak starts again.
        award(rules, &mut stats, "approval", Timestamp(monday.0 + 9 * DAY));
        assert_eq!(stats.streak_days, 1);
        assert_eq!(stats.points, 11 + 10 + (2 + 1) * 6 + 20 + 3);
    }
}
