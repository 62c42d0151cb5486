//! The model selector: given what an agent's step needs (its tier), the
//! user's privacy mode and the budget left, pick one of the configured
//! models and say why, in words that go into the run record.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ModelId, ProviderName, format_usd};

/// How capable a model a step needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Classification, checks: the local model is enough.
    Local,
    Fast,
    Standard,
    Premium,
}

/// Where the user allows models to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum PrivacyMode {
    /// Local models only: no network connection is ever opened.
    OfflineOnly,
    /// Local models unless a step needs a standard or premium model and a
    /// configured cloud model fits the budget.
    #[default]
    LocalPreferred,
    /// The configured cloud model of the step's tier; local where the step
    /// asks for it or nothing in the cloud fits.
    CloudAllowed,
}

macro_rules! kebab_names {
    ($ty:ty { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($name => Ok(Self::$variant),)*
                    other => Err(format!("unknown {} {other:?}: use one of {}", stringify!($ty), [$($name),*].join(", "))),
                }
            }
        }
    };
}

kebab_names!(Tier { Local = "local", Fast = "fast", Standard = "standard", Premium = "premium" });
kebab_names!(PrivacyMode { OfflineOnly = "offline-only", LocalPreferred = "local-preferred", CloudAllowed = "cloud-allowed" });

/// A model that could take the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The provider's name, or `local`.
    pub provider: ProviderName,
    pub model: ModelId,
    pub tier: Tier,
    /// Runs in this process (a candle model).
    pub local: bool,
    /// The most this call could cost on it, in micro-dollars.
    pub max_cost_micro_usd: u64,
}

/// The pick and the reason for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    pub candidate: Candidate,
    pub reason: String,
}

/// Why no model could be picked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("no local model is installed, and privacy mode {mode} allows no other; run `raptorflow models fetch`")]
    NoLocalModel { mode: PrivacyMode },
    #[error("no model can take a {tier} step: no local model is installed and no configured cloud model fits the {} left this month; run `raptorflow models fetch` or raise the budget", format_usd(*remaining))]
    NothingFits { tier: Tier, remaining: u64 },
}

/// Picks a model for a step of `tier`. `remaining` is the smaller of the
/// workspace's and the user's budget left this month.
pub fn select(tier: Tier, mode: PrivacyMode, remaining: u64, candidates: &[Candidate]) -> Result<Choice, SelectError> {
    let local = candidates.iter().find(|c| c.local);
    let pick = |candidate: &Candidate, reason: String| Choice { candidate: candidate.clone(), reason };
    let local_pick = |why: &str| local.map(|c| pick(c, format!("{why}: the local model {} ({})", c.model, mode)));
    if mode == PrivacyMode::OfflineOnly {
        return local_pick("privacy mode offline-only allows no network").ok_or(SelectError::NoLocalModel { mode });
    }
    let wants_cloud = match mode {
        PrivacyMode::OfflineOnly => false,
        PrivacyMode::LocalPreferred => tier >= Tier::Standard,
        PrivacyMode::CloudAllowed => tier > Tier::Local,
    };
    if !wants_cloud && let Some(choice) = local_pick(&format!("a {tier} step runs locally under {mode}")) {
        return Ok(choice);
    }
    // The step's own tier first, then the tiers above it (nearest first),
    // then those below; within a tier, the cheapest that fits.
    let mut order: Vec<Tier> = [Tier::Fast, Tier::Standard, Tier::Premium].into_iter().filter(|t| *t >= tier).collect();
    order.extend([Tier::Standard, Tier::Fast].into_iter().filter(|t| *t < tier));
    let cloud: Vec<&Candidate> = candidates.iter().filter(|c| !c.local).collect();
    for wanted in order {
        let best = cloud
            .iter()
            .filter(|c| c.tier == wanted && c.max_cost_micro_usd <= remaining)
            .min_by(|a, b| a.max_cost_micro_usd.cmp(&b.max_cost_micro_usd).then_with(|| a.provider.cmp(&b.provider)));
        if let Some(best) = best {
            let fit = if wanted == tier { format!("the {tier} model") } else { format!("no {tier} model fits, so the nearest {wanted} one") };
            return Ok(pick(
                best,
                format!(
                    "{fit} {} on {} under {mode}: at most {} of the {} left",
                    best.model,
                    best.provider,
                    format_usd(best.max_cost_micro_usd),
                    format_usd(remaining)
                ),
            ));
        }
    }
    let why = if cloud.is_empty() {
        "no cloud model is configured".to_owned()
    } else {
        format!("no configured cloud model fits the {} left this month", format_usd(remaining))
    };
    local_pick(&why).ok_or(SelectError::NothingFits { tier, remaining })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(provider: &str, tier: Tier, cost: u64) -> Candidate {
        Candidate {
            provider: provider.parse().unwrap(),
            model: format!("{provider}-model").parse().unwrap(),
            tier,
            local: provider == "local",
            max_cost_micro_usd: cost,
        }
    }

    fn all() -> Vec<Candidate> {
        vec![
            candidate("local", Tier::Local, 0),
            candidate("groq", Tier::Fast, 100),
            candidate("openai", Tier::Standard, 2_000),
            candidate("cheap-standard", Tier::Standard, 1_000),
            candidate("anthropic", Tier::Premium, 30_000),
        ]
    }

    fn check(tier: Tier, mode: PrivacyMode, remaining: u64, candidates: &[Candidate], expected: &str, reason_has: &str) {
        let choice = select(tier, mode, remaining, candidates).unwrap();
        assert_eq!(choice.candidate.provider, expected, "{tier} {mode} {remaining}: {}", choice.reason);
        assert!(choice.reason.contains(reason_has), "{:?} lacks {reason_has:?}", choice.reason);
    }

    #[test]
    fn picks_by_tier_privacy_and_budget() {
        use PrivacyMode::*;
        use Tier::*;
        let all = all();
        check(Premium, OfflineOnly, u64::MAX, &all, "local", "offline-only allows no network");
        check(Fast, LocalPreferred, u64::MAX, &all, "local", "runs locally");
        check(Standard, LocalPreferred, u64::MAX, &all, "cheap-standard", "the standard model");
        check(Premium, LocalPreferred, u64::MAX, &all, "anthropic", "the premium model");
        check(Premium, LocalPreferred, 5_000, &all, "cheap-standard", "nearest standard");
        check(Standard, LocalPreferred, 10, &all, "local", "fits the $0.00001 left");
        check(Local, CloudAllowed, u64::MAX, &all, "local", "runs locally");
        check(Fast, CloudAllowed, u64::MAX, &all, "groq", "the fast model");
        check(Standard, CloudAllowed, 1_500, &all, "cheap-standard", "at most $0.001");
        let cloud_only: Vec<Candidate> = all.iter().filter(|c| !c.local).cloned().collect();
        check(Local, CloudAllowed, u64::MAX, &cloud_only, "groq", "nearest fast");
        check(Fast, LocalPreferred, u64::MAX, &cloud_only, "groq", "the fast model");
        let local_only = vec![candidate("local", Local, 0)];
        check(Premium, CloudAllowed, u64::MAX, &local_only, "local", "no cloud model is configured");
    }

    #[test]
    fn says_what_to_do_when_nothing_fits() {
        let cloud_only: Vec<Candidate> = all().into_iter().filter(|c| !c.local).collect();
        let err = select(Tier::Premium, PrivacyMode::OfflineOnly, u64::MAX, &cloud_only).unwrap_err();
        assert!(err.to_string().contains("raptorflow models fetch"), "{err}");
        let err = select(Tier::Standard, PrivacyMode::CloudAllowed, 50, &cloud_only).unwrap_err();
        assert!(err.to_string().contains("$0.00005 left"), "{err}");
    }

    #[test]
    fn names_parse_back() {
        for tier in [Tier::Local, Tier::Fast, Tier::Standard, Tier::Premium] {
            assert_eq!(tier.as_str().parse::<Tier>(), Ok(tier));
        }
        assert!("cloud".parse::<PrivacyMode>().unwrap_err().contains("offline-only, local-preferred, cloud-allowed"));
    }
}
