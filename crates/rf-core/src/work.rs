//! The marketer's work as workflow runs: a campaign's plan (moves per
//! channel), the assets of its moves (Guardian's findings and the Guardian
//! agents' review on each), and the intelligence sweep's digest — the
//! context each run starts from, and what its approval writes into the
//! workspace documents (so teammates see it through sync).
//!
//! What the swarm writes gets ids made from the run and the step, so
//! settling a run twice writes nothing twice, and what a person changed
//! since is left as it is.

use rf_agents::{
    StepRecord, StepStatus,
    run::{ANSWER_OF, final_answer},
};
use rf_domain::{
    Asset, AssetContent, AssetId, AssetStatus, CampaignId, Channel, Digest, DigestAction, DigestChange, DigestSource, DomainError, DueDate, FindingCategory,
    FindingSeverity, GuardianFinding, Move, MoveId, MoveStatus, RunId, TextSpan, Timestamp, WorkspaceId, WorkspaceIndex, edit,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Core, CoreError, Result, campaigns::move_not_found, workflows::ApplyReport};

/// The channels Strategos plans moves on.
pub const PLAN_CHANNELS: [Channel; 7] = rf_domain::INTAKE_CHANNELS;

/// The channels asset generation has writers for, with the asset kind.
pub const ASSET_CHANNELS: [Channel; 3] = [Channel::GoogleAds, Channel::Linkedin, Channel::Email];

/// A team's competitor notes for an intelligence sweep (`intel sweep
/// --notes FILE`): what they saw each competitor do, and what else changed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepNotes {
    /// The period the sweep covers (default: the week of today).
    #[serde(default)]
    pub period: Option<String>,
    #[serde(default)]
    pub competitors: Vec<CompetitorNotes>,
    /// Other changes the team noticed, one line each.
    #[serde(default)]
    pub changes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompetitorNotes {
    pub name: String,
    #[serde(default)]
    pub observations: Vec<Observation>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    pub date: String,
    pub note: String,
}

impl SweepNotes {
    /// Parses notes from JSON, naming the field that is wrong.
    pub fn from_json(text: &str) -> Result<Self> {
        let deserializer = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(deserializer)
            .map_err(|err| DomainError::Invalid { field: "notes", reason: format!("at {}: {}", err.path(), err.inner()) }.into())
    }
}

/// An id made from a run, what it is for and a step: the same every time
/// the run is settled, different for every run and step.
fn derived_id(run: RunId, tag: u8, step: u32, index: usize) -> uuid::Uuid {
    let mut bytes = *run.as_uuid().as_bytes();
    bytes[10] ^= tag;
    bytes[11] ^= u8::try_from(index % 256).unwrap_or(0);
    for (byte, step_byte) in bytes[12..16].iter_mut().zip(step.to_be_bytes()) {
        *byte ^= step_byte;
    }
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn not_stated(text: &str) -> String {
    if text.trim().is_empty() { "Not stated yet".to_owned() } else { text.trim().to_owned() }
}

/// A competitor's name from a brand codex entry ("Roastworks: slower roasting").
pub(crate) fn competitor_name(entry: &str) -> String {
    entry.split(':').next().unwrap_or(entry).trim().to_owned()
}

/// What every workflow reads about the brand.
fn brand_context(index: &WorkspaceIndex) -> Value {
    let brand = &index.brand;
    json!({
        "company": if brand.company.trim().is_empty() { index.name.clone() } else { brand.company.clone() },
        "offer": not_stated(&brand.offer),
        "audience": not_stated(&brand.audiences.join("; ")),
        "competitors": brand.competitors.iter().map(|c| competitor_name(c)).collect::<Vec<_>>(),
        "market": "Not stated",
        "website": brand.website,
    })
}

fn team(index: &WorkspaceIndex) -> Vec<String> {
    index.members.values().map(|m| format!("{} – {}", m.display_name, m.role)).collect()
}

/// The text fields of an asset, by the field names Guardian reports.
pub(crate) fn asset_texts(content: &AssetContent) -> Vec<(String, String)> {
    let value = serde_json::to_value(content).unwrap_or_default();
    let mut texts = Vec::new();
    for (key, field) in value.as_object().into_iter().flatten() {
        match field {
            Value::String(text) if key != "kind" => texts.push((key.clone(), text.clone())),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(text) = item.as_str() {
                        texts.push((format!("{key}[{i}]"), text.to_owned()));
                    }
                }
            }
            _ => {}
        }
    }
    texts
}

/// A Guardian agent's answer as findings on `content`: each one quotes the
/// asset (a quote the asset does not hold is dropped, and counted), is
/// advice (`warn`), and says which agent found it. Deterministic findings
/// are not touched: no model can add a block or take one away.
pub fn model_findings(agent: &str, answer: &Value, content: &AssetContent) -> (Vec<GuardianFinding>, usize) {
    const QUOTE: [&str; 5] = ["quote", "ad_text", "asset_text", "claim_text", "evidence_quote"];
    const ISSUE: [&str; 5] = ["issue", "policy_area", "area", "claim_type", "problem"];
    const FIX: [&str; 5] = ["replacement", "clears_if", "fix", "lawful_rewrite", "direction"];
    let first = |item: &Value, keys: &[&str]| keys.iter().find_map(|k| item.get(*k).and_then(Value::as_str)).unwrap_or_default().trim().to_owned();
    let texts = asset_texts(content);
    let (mut findings, mut dropped) = (Vec::new(), 0);
    for list in answer.as_object().into_iter().flat_map(|m| m.values()).filter_map(Value::as_array) {
        for item in list.iter().filter(|i| i.is_object()) {
            // What the agent judged fine is not a finding.
            if item.get("status").and_then(Value::as_str) == Some("ok") || item.get("substantiated").and_then(Value::as_str) == Some("yes") {
                continue;
            }
            let (quote, issue, fix) = (first(item, &QUOTE), first(item, &ISSUE), first(item, &FIX));
            if quote.is_empty() || issue.is_empty() {
                continue;
            }
            let Some((field, start)) = texts.iter().find_map(|(field, text)| text.find(&quote).map(|at| (field.clone(), at))) else {
                dropped += 1;
                continue;
            };
            let start_chars = texts.iter().find(|(f, _)| *f == field).map_or(0, |(_, text)| text[..start].chars().count());
            let message = if fix.is_empty() {
                format!("{agent}: {} in \"{quote}\"", issue.replace('_', " "))
            } else {
                format!("{agent}: {} in \"{quote}\"; suggested: {fix}", issue.replace('_', " "))
            };
            let start = u64::try_from(start_chars).unwrap_or(0);
            let end = start + u64::try_from(quote.chars().count()).unwrap_or(0);
            findings.push(GuardianFinding {
                category: FindingCategory::ModelReview,
                rule: format!("{agent}.{issue}"),
                severity: FindingSeverity::Warn,
                field,
                message,
                span: Some(TextSpan { start, end }),
            });
        }
    }
    (findings, dropped)
}

/// A move from Strategos's answer, or why it cannot be one.
fn planned_move(item: &Value, index: &WorkspaceIndex) -> std::result::Result<Move, String> {
    let text = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or_default().trim().to_owned();
    let channel: Channel = text("channel").parse().map_err(|_| format!("channel {:?} is not one the campaign can use", text("channel")))?;
    let title =
        rf_domain::validate_name("move title", &text("move").chars().take(rf_domain::MAX_NAME_CHARS).collect::<String>()).map_err(|err| err.to_string())?;
    let owner_text = text("owner");
    // The owner is a member when the plan names one; otherwise it is said in the description.
    let owner = index
        .members
        .iter()
        .find(|(_, m)| !m.display_name.is_empty() && owner_text.to_lowercase().starts_with(&m.display_name.to_lowercase()))
        .map(|(id, _)| id.clone());
    let due_date = text("end").parse::<DueDate>().ok();
    let mut description = format!("{} to {}. Metric: {}.", text("start"), text("end"), text("metric"));
    if owner.is_none() && !owner_text.is_empty() {
        description.push_str(&format!(" Owner: {owner_text}."));
    }
    Ok(Move {
        title,
        channel,
        status: MoveStatus::Planned,
        owner,
        due_date,
        description: rf_domain::validate_text("move description", &description).map_err(|err| err.to_string())?,
        assets: Vec::new(),
        created_at: Timestamp::now(),
    })
}

fn target_campaign(approval: &StepRecord) -> Result<CampaignId> {
    approval
        .input
        .pointer("/target/campaign")
        .and_then(Value::as_str)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| CoreError::Conflict { what: format!("step {} applies to a campaign it does not name", approval.step) })
}

fn from_steps(approval: &StepRecord) -> Vec<(u32, Value)> {
    let steps = approval.input.get("from_steps").and_then(Value::as_array).cloned().unwrap_or_default();
    let items = approval.input.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    steps.iter().enumerate().filter_map(|(i, n)| Some((u32::try_from(n.as_u64()?).ok()?, items.get(i).cloned().unwrap_or(Value::Null)))).collect()
}

/// The final answer of each step an approval applies, with its item.
fn answers<'a>(steps: &'a [StepRecord], approval: &StepRecord) -> Vec<(u32, Value, &'a StepRecord)> {
    from_steps(approval)
        .into_iter()
        .filter_map(|(n, item)| final_answer(steps, n).filter(|s| s.status == StepStatus::Done && s.output.is_some()).map(|s| (n, item, s)))
        .collect()
}

impl Core {
    /// Creates the run that plans `campaign`'s moves (one Strategos step per
    /// channel it can plan), for a budget in micro-dollars (0: none).
    pub async fn create_plan_run(&self, campaign_id: CampaignId, budget_micro_usd: u64) -> Result<RunId> {
        let (index, _) = self.campaign_home(campaign_id).await?;
        let campaign = self.campaign(campaign_id).await?;
        let channels: Vec<Channel> = campaign.channels.iter().copied().filter(|c| PLAN_CHANNELS.contains(c)).collect();
        if channels.is_empty() {
            let can: Vec<String> = PLAN_CHANNELS.iter().map(ToString::to_string).collect();
            return Err(DomainError::Invalid {
                field: "campaign channels",
                reason: format!("the campaign has no channel Strategos can plan ({}); add one with `raptorflow campaign edit --channel`", can.join(", ")),
            }
            .into());
        }
        let now = Timestamp::now();
        let start = campaign.start_date.clone().unwrap_or_else(|| DueDate::days_after(now, 0));
        let end = campaign.end_date.clone().unwrap_or_else(|| DueDate::days_after(now, 27));
        let budget = campaign.budget.as_ref().map_or(0, |b| b.amount_minor / 100);
        let share = budget / i64::try_from(channels.len()).unwrap_or(1);
        let context = json!({
            "brand": brand_context(&index),
            "campaign": {
                "name": campaign.name,
                "goal": not_stated(&campaign.goal),
                "start_date": start.as_str(),
                "end_date": end.as_str(),
                "budget": budget,
                "channels": channels.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "team": team(&index),
                "budget_by_channel": channels.iter().map(|c| json!({"channel": c.to_string(), "budget_gbp": share})).collect::<Vec<_>>(),
                "past_results": [],
                "keywords": [],
                "landing_url": index.brand.website,
            },
            "target": {"campaign": campaign_id.to_string()},
        });
        self.create_workflow_run("campaign-plan", index.id, &context, format!("Plan: {}", campaign.name), budget_micro_usd).await
    }

    /// Creates the run that writes the assets of `campaign`'s moves (or of
    /// one move) on the channels with writers.
    pub async fn create_asset_run(&self, campaign_id: CampaignId, only: Option<MoveId>, budget_micro_usd: u64) -> Result<RunId> {
        let (index, _) = self.campaign_home(campaign_id).await?;
        let campaign = self.campaign(campaign_id).await?;
        if let Some(id) = only {
            let the_move = campaign.moves.get(&id).ok_or_else(|| move_not_found(id))?;
            if !ASSET_CHANNELS.contains(&the_move.channel) {
                return Err(DomainError::Invalid {
                    field: "move",
                    reason: format!("move {id} is on {}; assets are written for google_ads, linkedin and email moves", the_move.channel),
                }
                .into());
            }
        }
        let moves: Vec<Value> = campaign
            .moves
            .iter()
            .filter(|(id, m)| only.is_none_or(|o| o == **id) && ASSET_CHANNELS.contains(&m.channel))
            .map(|(id, m)| {
                let brief = if m.description.trim().is_empty() { m.title.clone() } else { format!("{}. {}", m.title, m.description) };
                json!({"id": id.to_string(), "title": m.title, "channel": m.channel.to_string(), "brief": brief})
            })
            .collect();
        if moves.is_empty() {
            return Err(DomainError::Invalid {
                field: "campaign moves",
                reason: "the campaign has no google_ads, linkedin or email moves to write for; plan it first (`raptorflow campaign plan`)".into(),
            }
            .into());
        }
        if index.brand.website.trim().is_empty() {
            return Err(DomainError::Invalid {
                field: "brand website",
                reason: "ads and emails link to the brand's website, and the brand codex has none: onboard with a website, or set it with `raptorflow workspace set-brand`".into(),
            }
            .into());
        }
        let context = json!({
            "brand": brand_context(&index),
            "campaign": {
                "name": campaign.name,
                "goal": not_stated(&campaign.goal),
                "keywords": [campaign.name.to_lowercase()],
                "landing_url": index.brand.website,
            },
            "moves": moves,
            "target": {"campaign": campaign_id.to_string()},
        });
        self.create_workflow_run("asset-generation", index.id, &context, format!("Assets: {}", campaign.name), budget_micro_usd).await
    }

    /// Creates the intelligence sweep of `workspace`: the competitors of
    /// its brand codex and of the notes, then Herald's digest.
    pub async fn create_sweep_run(&self, workspace: rf_domain::WorkspaceId, notes: SweepNotes, budget_micro_usd: u64) -> Result<RunId> {
        let index = self.workspace(workspace).await?;
        let mut competitors: Vec<CompetitorNotes> = notes.competitors.clone();
        for entry in &index.brand.competitors {
            let name = competitor_name(entry);
            if !name.is_empty() && !competitors.iter().any(|c| c.name.eq_ignore_ascii_case(&name)) {
                competitors.push(CompetitorNotes { name, observations: Vec::new() });
            }
        }
        if competitors.is_empty() {
            return Err(DomainError::Invalid {
                field: "competitors",
                reason: "there is no competitor to sweep: the brand codex names none (onboard first) and no notes were given (`--notes FILE`)".into(),
            }
            .into());
        }
        let mut changes = notes.changes.clone();
        let sources = self.sweep_sources(workspace, &index, &mut competitors, &mut changes).await;
        for competitor in &competitors {
            changes.extend(competitor.observations.iter().map(|o| format!("{} ({}): {}", competitor.name, o.date, o.note)));
        }
        if changes.is_empty() {
            changes.push(format!(
                "No changes noted by the team; tracked competitors: {}",
                competitors.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        let period = notes.period.clone().unwrap_or_else(|| format!("Week of {}", DueDate::days_after(Timestamp::now(), 0)));
        let context = json!({
            "workspace": brand_context(&index)["company"],
            "period": period,
            "team": team(&index),
            "competitors": competitors.iter().map(|c| json!({"name": c.name, "observations": c.observations})).collect::<Vec<_>>(),
            "changes": changes,
            "target": {"workspace": workspace.to_string(), "period": period, "sources": sources},
        });
        self.create_workflow_run("intelligence-sweep", workspace, &context, format!("Intelligence sweep: {period}"), budget_micro_usd).await
    }

    /// With a news connector configured, fetches today's signals and turns
    /// them into the sweep's evidence: each competitor's news items become
    /// its observations (title, publisher, URL), news of the company and
    /// the readings of the series (change points, anomalies) become
    /// changes, each naming its series. Returns the items, for the digest
    /// to cite. Without a connector, or if the fetch fails (offline-only,
    /// a bad key), the sweep goes on with the notes alone.
    async fn sweep_sources(
        &self,
        workspace: WorkspaceId,
        index: &WorkspaceIndex,
        competitors: &mut [CompetitorNotes],
        changes: &mut Vec<String>,
    ) -> Vec<DigestSource> {
        let configured = self.settings().is_ok_and(|s| s.connectors.iter().any(|c| c.name == "newsapi" || c.name == "brave"));
        if !configured {
            return Vec::new();
        }
        let sweep = match self.fetch_signals(workspace).await {
            Ok(sweep) => sweep,
            Err(err) => {
                tracing::warn!(%workspace, "the sweep goes on without connector news: {err}");
                return Vec::new();
            }
        };
        for problem in &sweep.problems {
            tracing::warn!(%workspace, "a connector call of the sweep failed: {problem}");
        }
        let company = brand_context(index)["company"].as_str().unwrap_or_default().trim().to_owned();
        let mut cited = Vec::new();
        for source in &sweep.sources {
            let date = source.hit.published.as_deref().map_or_else(|| sweep.day.clone(), |p| p.chars().take(10).collect());
            let publisher = source.hit.source.clone().unwrap_or_default();
            let note = format!(
                "{} ({}, via {}) {}",
                source.hit.title,
                if publisher.is_empty() { "unknown publisher" } else { &publisher },
                source.service,
                source.hit.url
            );
            if let Some(competitor) = competitors.iter_mut().find(|c| c.name.eq_ignore_ascii_case(&source.subject)) {
                competitor.observations.push(Observation { date: date.clone(), note });
            } else if source.subject.eq_ignore_ascii_case(&company) {
                changes.push(format!("In the news about {company} ({date}): {note}"));
            }
            cited.push(DigestSource {
                subject: source.subject.clone(),
                title: source.hit.title.clone(),
                url: source.hit.url.clone(),
                publisher,
                published: source.hit.published.clone().unwrap_or_default(),
                service: source.service.to_string(),
            });
        }
        match self.series_findings(workspace).await {
            Ok(findings) => changes.extend(findings),
            Err(err) => tracing::warn!(%workspace, "the sweep goes on without the signals' readings: {err}"),
        }
        cited
    }

    /// Adds the approved plan's moves to the campaign (once: the ids come
    /// from the run and step).
    pub(crate) async fn apply_moves(&self, run: RunId, steps: &[StepRecord], approval: &StepRecord, report: &mut ApplyReport) -> Result<()> {
        let campaign_id = target_campaign(approval)?;
        let (index, doc_id) = self.campaign_open_for_changes(campaign_id).await?;
        let mut planned = Vec::new();
        for (n, _, answer) in answers(steps, approval) {
            for (i, item) in answer.output.as_ref().and_then(|o| o.get("moves")).and_then(Value::as_array).into_iter().flatten().enumerate() {
                match planned_move(item, &index) {
                    Ok(the_move) => planned.push((MoveId::from_uuid(derived_id(run, 1, n, i)), the_move)),
                    Err(reason) => report.skipped.push(format!("step {n} move {}: {reason}", i + 1)),
                }
            }
        }
        for (id, _) in &planned {
            self.remember(id.to_string(), rf_store::EntityKind::Move, index.id, campaign_id).await?;
        }
        let added = self
            .docs()
            .change(&doc_id, format!("add the moves planned by run {run}"), move |tx| {
                let mut added = Vec::new();
                for (id, the_move) in planned {
                    if edit::read_move(tx, id)?.is_none() {
                        edit::put_move(tx, id, &the_move)?;
                        added.push(id);
                    }
                }
                Ok::<_, CoreError>(added)
            })
            .await?;
        if !added.is_empty() {
            self.record_activity(index.id, "plan_approved").await;
        }
        report.moves.extend(added);
        Ok(())
    }

    /// Writes the assets of an asset run into the campaign, each with
    /// Guardian's findings and the Guardian agents' findings on it: for
    /// review while the run waits for its approval (`approved: None`), then
    /// approved (where nothing blocks) or sent back with the note.
    pub(crate) async fn apply_assets(
        &self,
        run: RunId,
        steps: &[StepRecord],
        approval: &StepRecord,
        approved: Option<bool>,
        report: &mut ApplyReport,
    ) -> Result<()> {
        let campaign_id = target_campaign(approval)?;
        let (index, doc_id) = self.campaign_open_for_changes(campaign_id).await?;
        let mut written = Vec::new();
        for (n, item, answer) in answers(steps, approval) {
            let mut output = answer.output.clone().unwrap_or_default();
            if let Value::Object(map) = &mut output {
                map.remove("rationale");
            }
            let mut content: AssetContent = match serde_json::from_value(output) {
                Ok(content) => content,
                Err(err) => {
                    report.skipped.push(format!("step {}: the answer is not an asset: {err}", answer.step));
                    continue;
                }
            };
            crate::guardian::attach_disclaimers(&index.brand, &mut content)?;
            if let Err(err) = crate::campaigns::validate_asset_content(&content) {
                report.skipped.push(format!("step {}: {err}", answer.step));
                continue;
            }
            let mut findings = self.guardian_findings(&index.brand, &content)?;
            for reviewer in steps.iter().filter(|s| {
                s.status == StepStatus::Done
                    && s.input.as_object().is_some_and(|m| m.values().any(|v| v.get(ANSWER_OF).and_then(Value::as_u64) == Some(u64::from(n))))
            }) {
                let agent = reviewer.agent_id.as_ref().map(ToString::to_string).unwrap_or_default();
                let (mut found, dropped) = model_findings(&agent, reviewer.output.as_ref().unwrap_or(&Value::Null), &content);
                findings.append(&mut found);
                report.unquoted_findings += u32::try_from(dropped).unwrap_or(u32::MAX);
            }
            let move_id = item.get("id").and_then(Value::as_str).and_then(|m| m.parse::<MoveId>().ok());
            let id = AssetId::from_uuid(derived_id(run, 2, n, 0));
            written.push((
                id,
                move_id,
                Asset {
                    move_id,
                    content,
                    status: AssetStatus::InReview,
                    findings,
                    created_at: Timestamp::now(),
                    review_note: String::new(),
                    published_url: None,
                    design: None,
                },
            ));
        }
        for (id, _, _) in &written {
            self.remember(id.to_string(), rf_store::EntityKind::Asset, index.id, campaign_id).await?;
        }
        let note = approval.note.clone().unwrap_or_default();
        let statuses = self
            .docs()
            .change(&doc_id, format!("write the assets of run {run}"), move |tx| {
                let (mut statuses, mut approved_now) = (Vec::new(), 0);
                for (id, move_id, asset) in written {
                    // Written once; later passes change only its review status.
                    let mut stored = match edit::read_asset(tx, id)? {
                        Some(stored) => stored,
                        None => {
                            if let Some(move_id) = move_id
                                && let Some(mut the_move) = edit::read_move(tx, move_id)?
                            {
                                the_move.assets.push(id);
                                if matches!(the_move.status, MoveStatus::Planned | MoveStatus::InProgress) {
                                    the_move.status = MoveStatus::Review;
                                }
                                edit::put_move(tx, move_id, &the_move)?;
                            }
                            asset
                        }
                    };
                    let blocked = rf_guardian::Verdict::of(&stored.findings) == rf_guardian::Verdict::Block;
                    match approved {
                        Some(true) if stored.status == AssetStatus::InReview && !blocked => {
                            approved_now += 1;
                            stored.status = AssetStatus::Approved;
                            stored.review_note = "Approved with the run that wrote it".into();
                        }
                        Some(true) if blocked => stored.review_note = "Not approved: Guardian's blocking findings remain".into(),
                        Some(false) if stored.status == AssetStatus::InReview => {
                            stored.status = AssetStatus::ChangesRequested;
                            stored.review_note = if note.is_empty() { "Rejected with the run that wrote it".into() } else { note.clone() };
                        }
                        _ => {}
                    }
                    edit::put_asset(tx, id, &stored)?;
                    statuses.push((id, stored.status));
                }
                Ok::<_, CoreError>((statuses, approved_now))
            })
            .await?;
        let (statuses, approved_now) = statuses;
        for _ in 0..approved_now {
            self.record_activity(index.id, "asset_approved").await;
        }
        report.assets = statuses;
        Ok(())
    }

    /// Shares the approved digest in the workspace (keyed by the run).
    pub(crate) async fn apply_digest(&self, run: RunId, steps: &[StepRecord], approval: &StepRecord, report: &mut ApplyReport) -> Result<()> {
        let workspace = approval
            .input
            .pointer("/target/workspace")
            .and_then(Value::as_str)
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| CoreError::Conflict { what: format!("step {} applies a digest to no workspace", approval.step) })?;
        let period = approval.input.pointer("/target/period").and_then(Value::as_str).unwrap_or_default().to_owned();
        let Some((_, _, answer)) = answers(steps, approval).into_iter().next() else {
            report.skipped.push("the digest step has no answer".into());
            return Ok(());
        };
        let output = answer.output.clone().unwrap_or_default();
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let competitors: Vec<String> = steps
            .iter()
            .filter(|s| s.status == StepStatus::Done && s.agent_id.as_ref().is_some_and(|a| a.as_str() == "MTX-001"))
            .filter_map(|s| s.input.get("competitor").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let digest = Digest {
            period,
            headline: text(&output, "headline"),
            what_changed: output
                .get("what_changed")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| DigestChange { change: text(c, "change"), signal: text(c, "signal") })
                .collect(),
            what_it_means: text(&output, "what_it_means"),
            next_steps: output
                .get("next_steps")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|a| DigestAction { action: text(a, "action"), owner: text(a, "owner"), by: text(a, "by") })
                .collect(),
            competitors,
            created_at: Timestamp::now(),
            sources: approval.input.pointer("/target/sources").cloned().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
        };
        let shared = self
            .update_index(workspace, format!("share the digest of run {run}"), move |index| {
                if index.digests.contains_key(&run) {
                    return Ok(false);
                }
                index.digests.insert(run, digest);
                Ok(true)
            })
            .await?;
        if shared {
            self.record_activity(workspace, "digest_shared").await;
        }
        report.digest = shared || report.digest;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa() -> AssetContent {
        AssetContent::GoogleRsa {
            headlines: vec!["Fresh Coffee By Post".into(), "Roasted To Order".into(), "Subscribe From £12.50".into()],
            descriptions: vec!["Beans roasted to order and sent every 2 or 4 weeks.".into(), "Pause or cancel any time.".into()],
            paths: vec![],
            final_url: "https://fernhill.coffee/subscribe".into(),
        }
    }

    #[test]
    fn a_model_finding_on_compliant_text_is_advice_and_the_verdict_stands() {
        let policy = crate::guardian::policy().unwrap();
        let brand = rf_guardian::BrandRules::none();
        let content = rsa();
        let deterministic = crate::guardian::findings_of(policy, &brand, &content).unwrap();
        assert_eq!(rf_guardian::Verdict::of(&deterministic), rf_guardian::Verdict::Pass, "{deterministic:?}");
        // The model double invents a problem, quoting real text, and one quoting text the asset does not have.
        let answer = json!({"findings": [
            {"quote": "Roasted To Order", "issue": "unsupported_superlative", "replacement": "Roasted when you order"},
            {"quote": "The UK's best coffee", "issue": "unsupported_superlative", "replacement": "x"}
        ], "serving_outlook": "likely_disapproved"});
        let (found, dropped) = model_findings("GRD-001", &answer, &content);
        assert_eq!(dropped, 1, "a quote the asset does not hold is not a finding");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].severity, found[0].category, found[0].field.as_str()), (FindingSeverity::Warn, FindingCategory::ModelReview, "headlines[1]"));
        assert_eq!(found[0].span, Some(TextSpan { start: 0, end: 16 }));
        let all: Vec<GuardianFinding> = deterministic.iter().cloned().chain(found).collect();
        assert_ne!(rf_guardian::Verdict::of(&all), rf_guardian::Verdict::Block, "the model's finding does not block what the rules pass");
        assert!(all.iter().all(|f| f.category != FindingCategory::ModelReview || f.severity == FindingSeverity::Warn));
    }

    #[test]
    fn a_finding_the_model_misses_still_blocks() {
        let policy = crate::guardian::policy().unwrap();
        let brand = rf_guardian::BrandRules::none();
        let AssetContent::GoogleRsa { mut headlines, descriptions, paths, final_url } = rsa() else { unreachable!() };
        headlines[0] = "Fresh Coffee By Post 😀".into();
        let content = AssetContent::GoogleRsa { headlines, descriptions, paths, final_url };
        let deterministic = crate::guardian::findings_of(policy, &brand, &content).unwrap();
        assert_eq!(rf_guardian::Verdict::of(&deterministic), rf_guardian::Verdict::Block, "{deterministic:?}");
        // The model double finds nothing and judges the ad eligible.
        let (found, _) = model_findings("GRD-001", &json!({"findings": [], "serving_outlook": "eligible"}), &content);
        let all: Vec<GuardianFinding> = deterministic.iter().cloned().chain(found).collect();
        assert_eq!(rf_guardian::Verdict::of(&all), rf_guardian::Verdict::Block, "the rule's block stands");
    }

    #[test]
    fn what_an_agent_judged_fine_is_not_a_finding() {
        let content = AssetContent::Email { subject: "Your coffee".into(), preheader: "Fresh".into(), body: "Hello. Unsubscribe any time.".into() };
        let answer = json!({"checks": [
            {"area": "unsubscribe", "status": "ok", "asset_text": "Unsubscribe any time.", "fix": ""},
            {"area": "sender_identity_and_address", "status": "missing", "asset_text": "Hello.", "fix": "Add the postal address"}
        ], "can_send": "after_fixes"});
        let (found, dropped) = model_findings("GRD-010", &answer, &content);
        assert_eq!((found.len(), dropped), (1, 0));
        assert_eq!(found[0].rule, "GRD-010.sender_identity_and_address");
        assert!(found[0].message.contains("Add the postal address"), "{}", found[0].message);
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let run = RunId::new();
        assert_eq!(derived_id(run, 1, 3, 0), derived_id(run, 1, 3, 0));
        let ids: std::collections::BTreeSet<_> = [(1, 3, 0), (1, 3, 1), (1, 4, 0), (2, 3, 0)].iter().map(|&(t, s, i)| derived_id(run, t, s, i)).collect();
        assert_eq!(ids.len(), 4);
        assert_ne!(derived_id(RunId::new(), 1, 3, 0), derived_id(run, 1, 3, 0));
    }

    #[test]
    fn sweep_notes_name_the_bad_field() {
        let err = SweepNotes::from_json(r#"{"competitors": [{"name": "A", "observations": [{"date": "2026-12-01"}]}]}"#).unwrap_err();
        assert!(err.to_string().contains("competitors[0].observations[0]"), "{err}");
        assert!(SweepNotes::from_json(r#"{"changes": ["x"], "colour": 1}"#).unwrap_err().to_string().contains("colour"));
    }
}
