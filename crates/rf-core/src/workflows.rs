//! Workflows on this Core (`prompts/workflows/`): runs made from a
//! workflow and a context, onboarding from a business file, and what an
//! approved run writes into the workspace — the brand codex drafted by
//! onboarding, each claim with the intake fields or Codex passages it
//! cites, without overwriting what a person has edited since.

use std::sync::Arc;

use rf_agents::{RunRecord, RunRequest, RunStatus, StepKind, StepStatus, Workflows};
use rf_domain::{AssetId, AssetStatus, BrandCodex, Business, MoveId, RunId, Voice, WorkspaceId};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{Core, CoreError, Result};

/// The brand codex fields onboarding writes, in the order it reports them.
pub const BRAND_FIELDS: [&str; 9] = ["company", "website", "offer", "audiences", "voice", "banned_terms", "required_disclaimers", "competitors", "positioning"];

/// What settling a run wrote into the workspace: the brand codex of an
/// onboarding, a plan's moves, assets, a digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ApplyReport {
    pub run: Option<RunId>,
    /// Brand codex fields written from the draft.
    pub written: Vec<String>,
    /// Brand codex fields a person edited since the swarm last wrote them: kept.
    pub kept: Vec<String>,
    /// Claims left out because they cite nothing the step was given, with
    /// the field.
    pub uncited: Vec<String>,
    /// Moves added to the campaign.
    pub moves: Vec<MoveId>,
    /// Assets in the campaign from this run, with their review status.
    pub assets: Vec<(AssetId, AssetStatus)>,
    /// Whether a digest was shared in the workspace.
    pub digest: bool,
    /// What could not be written, and why.
    pub skipped: Vec<String>,
    /// Guardian agents' findings left out because their quote is not in the asset.
    pub unquoted_findings: u32,
}

/// The report of `run`, started on first use.
fn work(report: &mut Option<ApplyReport>, run: RunId) -> &mut ApplyReport {
    report.get_or_insert_with(|| ApplyReport { run: Some(run), ..ApplyReport::default() })
}

/// One field of a draft: its new value and the sources it cites.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DraftField {
    pub name: &'static str,
    pub value: Value,
    pub cites: Vec<String>,
}

fn cites_of(value: &Value, facts: &[String]) -> Vec<String> {
    let mut cites: Vec<String> = value
        .get("cites")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|c| rf_agents::exec::cited_source(c, facts))
        .collect();
    cites.dedup();
    cites
}

fn text_of(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().trim().to_owned()
}

fn texts_of(value: &Value, key: &str) -> Vec<String> {
    tidy(value.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect())
}

/// What small models write when they have nothing to say.
const PLACEHOLDERS: [&str; 10] = ["none", "n/a", "na", "null", "nil", "-", "tbd", "unknown", "not applicable", "nothing"];

/// A generated list as a person would write it: no blanks, no placeholder
/// items ("none"), no item twice (whatever its case).
fn tidy(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty() && !PLACEHOLDERS.contains(&item.trim_end_matches('.').to_lowercase().as_str()))
        .filter(|item| seen.insert(item.to_lowercase()))
        .collect()
}

/// The fields of a brand codex draft (LORD-002.brand-codex's answer),
/// claims without a valid citation left out and listed.
pub(crate) fn draft_fields(draft: &Value, company: &str, website: Option<&str>, facts: &[String]) -> (Vec<DraftField>, Vec<String>) {
    let mut fields = vec![DraftField { name: "company", value: json!(company), cites: vec!["intake:company".into()] }];
    if let Some(website) = website.filter(|w| !w.is_empty()) {
        fields.push(DraftField { name: "website", value: json!(website), cites: vec!["intake:website".into()] });
    }
    let mut uncited = Vec::new();
    let mut cited_text = |name: &'static str, part: &Value, text: String, fields: &mut Vec<DraftField>| {
        if text.is_empty() {
            return;
        }
        let cites = cites_of(part, facts);
        if cites.is_empty() {
            uncited.push(format!("{name}: {text}"));
        } else {
            fields.push(DraftField { name, value: json!(text), cites });
        }
    };
    let offer = draft.get("offer").cloned().unwrap_or_default();
    cited_text("offer", &offer, text_of(&offer, "text"), &mut fields);
    let positioning = draft.get("positioning").cloned().unwrap_or_default();
    cited_text("positioning", &positioning, text_of(&positioning, "text"), &mut fields);
    for (name, item_text) in [
        (
            "audiences",
            (|a: &Value| {
                let pains = texts_of(a, "pains");
                let who = text_of(a, "who");
                if pains.is_empty() { who } else { format!("{who}: {}", pains.join("; ")) }
            }) as fn(&Value) -> String,
        ),
        ("competitors", |c: &Value| {
            let (name, difference) = (text_of(c, "name"), text_of(c, "difference"));
            if difference.is_empty() { name } else { format!("{name}: {difference}") }
        }),
    ] {
        let mut items = Vec::new();
        let mut cites = Vec::new();
        for item in draft.get(name).and_then(Value::as_array).into_iter().flatten() {
            let text = item_text(item);
            // The company is not its own competitor or audience.
            let who = text_of(item, if name == "competitors" { "name" } else { "who" });
            if tidy(vec![text.clone()]).is_empty() || who.eq_ignore_ascii_case(company.trim()) {
                continue;
            }
            let item_cites = cites_of(item, facts);
            if item_cites.is_empty() {
                uncited.push(format!("{name}: {text}"));
            } else {
                items.push(text);
                cites.extend(item_cites);
            }
        }
        cites.sort();
        cites.dedup();
        let items = tidy(items);
        if !items.is_empty() {
            fields.push(DraftField { name, value: json!(items), cites });
        }
    }
    if let Some(voice) = draft.get("voice") {
        let value = Voice { tone: text_of(voice, "tone"), dos: texts_of(voice, "dos"), donts: texts_of(voice, "donts") };
        if value != Voice::default() {
            let cites = cites_of(voice, facts);
            if cites.is_empty() {
                uncited.push(format!("voice: {}", value.tone));
            } else {
                fields.push(DraftField { name: "voice", value: serde_json::to_value(&value).unwrap_or_default(), cites });
            }
        }
    }
    // Rules rather than claims: they need no citation.
    for name in ["banned_terms", "required_disclaimers"] {
        let items = texts_of(draft, name);
        if !items.is_empty() {
            fields.push(DraftField { name, value: json!(items), cites: Vec::new() });
        }
    }
    (fields, uncited)
}

/// Checks the fields a user asks to regenerate: brand codex fields, or "all".
pub fn check_regenerate(regenerate: &[String]) -> Result<()> {
    match regenerate.iter().find(|field| *field != "all" && !BRAND_FIELDS.contains(&field.as_str())) {
        Some(field) => Err(rf_domain::DomainError::Invalid {
            field: "regenerate",
            reason: format!("{field:?} is not a brand codex field; use all or {}", BRAND_FIELDS.join(", ")),
        }
        .into()),
        None => Ok(()),
    }
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.values().all(is_empty_value),
        _ => false,
    }
}

/// Writes `fields` into `codex`, except those a person edited since the
/// swarm last wrote them (unless named in `regenerate`, or it holds "all").
pub(crate) fn merge_brand(codex: &mut BrandCodex, fields: Vec<DraftField>, regenerate: &[String]) -> Result<ApplyReport> {
    let mut report = ApplyReport::default();
    let mut value = serde_json::to_value(&*codex).map_err(|err| CoreError::Conflict { what: format!("the brand codex does not serialise: {err}") })?;
    let mut generated = codex.generated.clone();
    let mut sources = codex.sources.clone();
    for field in fields {
        let current = value.get(field.name).cloned().unwrap_or(Value::Null);
        let edited = !is_empty_value(&current) && generated.get(field.name) != Some(&current.to_string());
        let asked = regenerate.iter().any(|r| r == field.name || r == "all");
        if edited && !asked {
            report.kept.push(field.name.to_owned());
            continue;
        }
        generated.insert(field.name.to_owned(), field.value.to_string());
        if field.cites.is_empty() {
            sources.remove(field.name);
        } else {
            sources.insert(field.name.to_owned(), field.cites);
        }
        value[field.name] = field.value;
        report.written.push(field.name.to_owned());
    }
    let mut merged: BrandCodex =
        serde_json::from_value(value).map_err(|err| CoreError::Conflict { what: format!("the drafted brand codex does not fit the document: {err}") })?;
    merged.generated = generated;
    merged.sources = sources;
    *codex = merged;
    Ok(report)
}

impl Core {
    /// The workflows of the prompts directory, loaded and checked on first use.
    pub async fn workflows(&self) -> Result<Arc<Workflows>> {
        let swarm = self.swarm().await?;
        self.inner
            .workflows
            .get_or_try_init(|| async {
                let dir = self.inner.prompts_dir.clone();
                let roster = swarm.roster().clone();
                let workflows = tokio::task::spawn_blocking(move || Workflows::load(&dir, &roster))
                    .await
                    .map_err(|err| CoreError::Conflict { what: format!("loading the workflows failed: {err}") })?
                    .map_err(rf_agents::AgentError::from)?;
                Ok::<_, CoreError>(Arc::new(workflows))
            })
            .await
            .cloned()
    }

    /// Creates (does not start) a run of workflow `id` for `context` in
    /// `workspace`, with a budget in micro-dollars (0: none).
    pub async fn create_workflow_run(&self, id: &str, workspace: WorkspaceId, context: &Value, title: String, budget_micro_usd: u64) -> Result<RunId> {
        self.workspace(workspace).await?;
        let swarm = self.swarm().await?;
        let workflows = self.workflows().await?;
        let workflow =
            workflows.get(id).ok_or_else(|| CoreError::NotFound { what: "workflow", id: id.to_owned(), hint: " (`raptorflow workflows list` shows them)" })?;
        let steps = workflow
            .plan(swarm.roster(), context)
            .map_err(|reason| rf_domain::DomainError::Invalid { field: "workflow context", reason })?
            .into_iter()
            .map(|(_, step)| step)
            .collect();
        let request = RunRequest { workspace_id: Some(workspace), user_id: self.user().id.clone(), title, budget_micro_usd, parallelism: None, steps };
        Ok(swarm.create(request).await?)
    }

    /// Creates the onboarding run of `business` for `workspace`. Fields in
    /// `regenerate` ("all" for every one) are rewritten even where a person
    /// edited them since the swarm last did.
    pub async fn create_onboarding_run(&self, workspace: WorkspaceId, business: &Business, regenerate: &[String], budget_micro_usd: u64) -> Result<RunId> {
        check_regenerate(regenerate)?;
        let facts: Vec<Value> = business.facts().into_iter().map(|(field, text)| json!({"field": field, "text": text})).collect();
        let context = json!({ "intake": business, "facts": facts, "regenerate": regenerate });
        self.create_workflow_run("onboarding", workspace, &context, format!("Onboarding: {}", business.company), budget_micro_usd).await
    }

    /// Drives a run (see [`rf_agents::Runtime::drive`]); when it stops,
    /// writes what its approvals apply into the workspace (see
    /// [`Core::settle_run`]).
    pub async fn drive_run(&self, run: RunId, cancel: &CancellationToken) -> Result<(RunRecord, Option<ApplyReport>)> {
        let swarm = self.swarm().await?;
        let record = swarm.drive(run, cancel).await?;
        let report = if matches!(record.status, RunStatus::Finished | RunStatus::Paused | RunStatus::Failed) { self.settle_run(run).await? } else { None };
        Ok((record, report))
    }

    /// Writes into the workspace what the approval steps of a run apply:
    /// once approved, the brand codex of an onboarding, a plan's moves, a
    /// sweep's digest; assets as soon as their approval waits (for review,
    /// with their findings), then approved or sent back with it. Settling
    /// again writes nothing twice and keeps what a person edited since.
    pub async fn settle_run(&self, run: RunId) -> Result<Option<ApplyReport>> {
        let swarm = self.swarm().await?;
        let record = swarm.store().run(run).await?;
        let steps = swarm.store().steps(run).await?;
        let mut report: Option<ApplyReport> = None;
        for approval in steps.iter().filter(|s| s.kind == StepKind::Approval) {
            let target = approval.input.get("apply").and_then(Value::as_str);
            match (target, approval.status) {
                (Some("brand_codex"), StepStatus::Approved) => {}
                (Some("moves"), StepStatus::Approved) => {
                    self.apply_moves(run, &steps, approval, work(&mut report, run)).await?;
                    continue;
                }
                (Some("assets"), StepStatus::Waiting | StepStatus::Approved | StepStatus::Rejected) => {
                    let approved = match approval.status {
                        StepStatus::Approved => Some(true),
                        StepStatus::Rejected => Some(false),
                        _ => None,
                    };
                    self.apply_assets(run, &steps, approval, approved, work(&mut report, run)).await?;
                    continue;
                }
                (Some("digest"), StepStatus::Approved) => {
                    self.apply_digest(run, &steps, approval, work(&mut report, run)).await?;
                    continue;
                }
                _ => continue,
            }
            let workspace = record.workspace_id.ok_or_else(|| CoreError::Conflict { what: format!("run {run} belongs to no workspace") })?;
            let from = approval.input.get("from_step").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok());
            let source = steps
                .iter()
                .find(|s| Some(s.step) == from)
                .ok_or_else(|| CoreError::Conflict { what: format!("step {} of run {run} applies a step the run does not have", approval.step) })?;
            let Some(draft) = &source.output else {
                return Err(CoreError::Conflict { what: format!("step {} of run {run} has no answer to apply", source.step) });
            };
            let given: Vec<&Value> = source.input.get("facts").and_then(Value::as_array).into_iter().flatten().collect();
            let fact = |f: &Value| f.get("field").and_then(Value::as_str).map(str::to_owned);
            let facts: Vec<String> = given.iter().filter_map(|f| fact(f)).collect();
            let website = given.iter().find(|f| fact(f).as_deref() == Some("website")).and_then(|f| f.get("text")).and_then(Value::as_str).map(str::to_owned);
            let company = source.input.get("company").and_then(Value::as_str).unwrap_or_default().to_owned();
            let regenerate: Vec<String> =
                approval.input.get("regenerate").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
            let (fields, uncited) = draft_fields(draft, &company, website.as_deref(), &facts);
            let mut applied = self
                .update_index(workspace, format!("apply the brand codex of run {run}"), move |index| {
                    let mut codex = index.brand.clone();
                    let applied = merge_brand(&mut codex, fields, &regenerate)?;
                    crate::workspaces::validate_brand_codex(&codex)?;
                    index.brand = codex;
                    Ok(applied)
                })
                .await?;
            if !applied.written.is_empty() {
                self.record_activity(workspace, "onboarding_approved").await;
            }
            applied.run = Some(run);
            applied.uncited = uncited;
            tracing::info!(%run, written = ?applied.written, kept = ?applied.kept, "brand codex applied");
            report = Some(applied);
        }
        if let Some(report) = &report {
            tracing::info!(%run, moves = report.moves.len(), assets = report.assets.len(), digest = report.digest, skipped = ?report.skipped, "run settled");
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Vec<String> {
        ["company", "description", "products[0]", "audiences[0]"].map(str::to_owned).to_vec()
    }

    fn draft() -> Value {
        json!({
            "offer": {"text": "Coffee by post", "cites": ["intake:description", "made-up"]},
            "audiences": [
                {"who": "Home workers", "pains": ["stale beans"], "cites": ["intake:audiences[0]"]},
                {"who": "Invented segment", "pains": [], "cites": ["intake:nowhere"]}
            ],
            "voice": {"tone": "warm", "dos": ["name the farm"], "donts": ["jargon"], "cites": ["[2] pricing.md", "[3]"]},
            "banned_terms": ["best in the world"],
            "required_disclaimers": [],
            "competitors": [{"name": "Roastworks", "difference": "slower roasting", "cites": []}],
            "positioning": {"text": "Fresh coffee for home workers", "cites": ["[0]"]}
        })
    }

    #[test]
    fn claims_keep_only_citations_of_what_the_step_had() {
        let (fields, uncited) = draft_fields(&draft(), "Fernhill", None, &facts());
        let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
        assert_eq!(names, ["company", "offer", "audiences", "voice", "banned_terms"]);
        assert_eq!(fields[1].cites, ["intake:description"], "a citation of nothing is dropped");
        assert_eq!(fields[2].value, json!(["Home workers: stale beans"]));
        assert_eq!(fields[3].cites, ["codex: pricing.md [2]", "codex passage [3]"]);
        assert_eq!(uncited, ["positioning: Fresh coffee for home workers", "audiences: Invented segment", "competitors: Roastworks: slower roasting"]);
    }

    #[test]
    fn placeholders_repeats_and_the_company_itself_are_left_out_of_lists() {
        let mut draft = draft();
        draft["banned_terms"] = json!(["none", "None.", "guaranteed", " Guaranteed ", "n/a", ""]);
        draft["required_disclaimers"] = json!(["none", "none"]);
        draft["voice"]["dos"] = json!(["Name the farm", "name the farm", "TBD"]);
        draft["audiences"] = json!([
            {"who": "Home workers", "pains": ["stale beans"], "cites": ["intake:audiences[0]"]},
            {"who": "Home workers", "pains": ["stale beans"], "cites": ["intake:audiences[0]"]},
            {"who": "Fernhill", "pains": [], "cites": ["intake:company"]}
        ]);
        draft["competitors"] = json!([
            {"name": "fernhill", "difference": "roasts on Monday", "cites": ["[2]"]},
            {"name": "Roastworks", "difference": "", "cites": ["[2]"]}
        ]);
        let (fields, _) = draft_fields(&draft, "Fernhill", None, &facts());
        let field = |name: &str| fields.iter().find(|f| f.name == name).map(|f| f.value.clone());
        assert_eq!(field("banned_terms"), Some(json!(["guaranteed"])));
        assert_eq!(field("required_disclaimers"), None, "only placeholders: nothing to write");
        assert_eq!(field("voice").unwrap()["dos"], json!(["Name the farm"]));
        assert_eq!(field("audiences"), Some(json!(["Home workers: stale beans"])));
        assert_eq!(field("competitors"), Some(json!(["Roastworks"])));
    }

    #[test]
    fn a_persons_edit_wins_over_a_regeneration_unless_asked() {
        let mut codex = BrandCodex::default();
        let (fields, _) = draft_fields(&draft(), "Fernhill", None, &facts());
        let report = merge_brand(&mut codex, fields.clone(), &[]).unwrap();
        assert_eq!(report.written, ["company", "offer", "audiences", "voice", "banned_terms"]);
        assert_eq!(codex.offer, "Coffee by post");
        assert_eq!(codex.sources["offer"], ["intake:description"]);

        // A person edits the offer; the next draft changes offer and voice.
        codex.offer = "Roasted Monday, at your door Wednesday".into();
        let mut next = draft();
        next["offer"]["text"] = json!("Coffee subscriptions");
        next["voice"]["tone"] = json!("warm and wry");
        let (fields, _) = draft_fields(&next, "Fernhill", None, &facts());
        let report = merge_brand(&mut codex, fields.clone(), &[]).unwrap();
        assert_eq!(report.kept, ["offer"]);
        assert_eq!(codex.offer, "Roasted Monday, at your door Wednesday");
        assert_eq!(codex.voice.tone, "warm and wry", "a field nobody edited follows the draft");

        // Asked to regenerate the offer, it is written.
        let report = merge_brand(&mut codex, fields, &["offer".into()]).unwrap();
        assert!(report.kept.is_empty() && report.written.contains(&"offer".to_owned()));
        assert_eq!(codex.offer, "Coffee subscriptions");
    }
}
