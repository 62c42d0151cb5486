//! `raptorflow guardian`: check ad copy against the platforms' policy packs
//! and a workspace's brand rules, and list the rules; `raptorflow asset`:
//! add, edit, show, list and delete assets, re-check them and move them
//! through review.

use std::path::PathBuf;

use clap::Subcommand;
use rf_core::domain::{Asset, AssetId, AssetKind, AssetStatus, CampaignId, GuardianFinding, MoveId, WorkspaceId};
use rf_core::{
    Core, CoreError,
    guardian::{self, Platform, Report, RuleInfo},
};
use serde_json::json;

use crate::output::Output;

fn platform(text: &str) -> Result<Platform, String> {
    text.parse().map_err(|err: rf_core::guardian::GuardianError| err.to_string())
}

#[derive(Debug, Subcommand)]
pub(crate) enum GuardianCommand {
    /// Check an asset given as JSON. Exits 0 whenever the check ran, whatever
    /// the verdict; 2 for input that is not a valid asset.
    ///
    /// google-ads: {"headlines": [..], "descriptions": [..], "paths": [..]};
    /// meta: {"primary_text", "headline", "description", "special_ad_category"?};
    /// linkedin: {"intro", "headline", "description"}; x: {"text"}.
    Check {
        /// google-ads, meta, linkedin or x.
        #[arg(long, value_name = "PLATFORM", value_parser = platform)]
        platform: Platform,
        /// Also apply this workspace's brand rules (banned terms,
        /// disclaimers, voice).
        #[arg(long, value_name = "ID")]
        workspace: Option<WorkspaceId>,
        /// The asset as a JSON file, or - for stdin.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// List the loaded rules with where each is published.
    Rules {
        /// Only the rules that apply to this platform.
        #[arg(long, value_name = "PLATFORM", value_parser = platform)]
        platform: Option<Platform>,
    },
}

impl GuardianCommand {
    /// Whether the command needs the data directory (for a workspace's brand).
    pub(crate) fn needs_workspace(&self) -> bool {
        matches!(self, GuardianCommand::Check { workspace: Some(_), .. })
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum AssetCommand {
    /// Write the assets of a campaign's moves with the swarm: Muse writers,
    /// Arbiter's review until Guardian blocks nothing, the Guardian agents'
    /// review; they land in the campaign for review, and `run approve`
    /// approves them.
    Generate(crate::swarm::GenerateArgs),
    /// Run Guardian on a stored asset again (after the brand codex changed)
    /// and store its findings.
    Check { asset_id: AssetId },
    /// Set an asset's review status: draft, in_review, changes_requested,
    /// approved or published. Guardian checks it first; approved and
    /// published are refused while a finding blocks.
    SetStatus {
        asset_id: AssetId,
        status: AssetStatus,
        /// The reviewer's note (what to change, why it was approved); it
        /// replaces the previous one.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// Add an asset to a campaign from a JSON file (`-` for stdin) with the
    /// kind's fields, the same JSON `guardian check` reads, or from `--set
    /// FIELD=VALUE` flags; Guardian checks it as it is saved.
    #[command(group(clap::ArgGroup::new("content").required(true).args(["file", "set"])))]
    Add {
        #[arg(long, value_name = "ID")]
        campaign: CampaignId,
        /// The move that produces it.
        #[arg(long = "move", value_name = "ID")]
        move_id: Option<MoveId>,
        /// google_rsa, meta_ad, linkedin_ad, x_post, linkedin_post, email,
        /// blog_post, video_script or image_brief.
        #[arg(long, value_name = "KIND")]
        kind: AssetKind,
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// One field, e.g. `--set text="Spring rides start here."`; repeat
        /// a list field (a Google RSA's headlines) once per item.
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// Replace an asset's content (same kind) from a JSON file, or change
    /// some of its fields with `--set FIELD=VALUE`; Guardian checks it
    /// again, and an approved asset goes back to review.
    #[command(group(clap::ArgGroup::new("content").required(true).args(["file", "set"])))]
    Edit {
        asset_id: AssetId,
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// Show an asset: its content, status and Guardian's findings.
    Show { asset_id: AssetId },
    /// List a campaign's assets (or one move's).
    List {
        #[arg(long, value_name = "ID")]
        campaign: CampaignId,
        #[arg(long = "move", value_name = "ID")]
        move_id: Option<MoveId>,
    },
    /// Delete an asset.
    Delete { asset_id: AssetId },
    /// Post an approved asset through a connector (an x_post to the X
    /// account signed in with `connectors auth x`, a linkedin_post to the
    /// LinkedIn page of `connectors auth linkedin`); it becomes published
    /// and keeps the post's address. Never retried on its own.
    Publish {
        asset_id: AssetId,
        /// The service: x or linkedin.
        #[arg(long = "to", value_name = "SERVICE")]
        to: String,
        /// An earlier post of this asset got no confirmation, and you
        /// checked the account: it is not there. Post again.
        #[arg(long)]
        checked: bool,
    },
    /// Make the Canva design of an image brief (signed in with
    /// `connectors auth canva`): an empty design of the brief's aspect
    /// ratio titled with its concept, kept on the asset. Canva cannot
    /// place the brief's text or pictures without Canva Enterprise.
    Design {
        asset_id: AssetId,
        /// Make a new design in place of the one the asset has (after its
        /// aspect ratio changed; the old one stays in Canva).
        #[arg(long)]
        new: bool,
    },
    /// Export an asset's Canva design to files (one a page).
    ExportDesign {
        asset_id: AssetId,
        /// png, jpg or pdf.
        #[arg(long, default_value = "png", value_name = "FORMAT")]
        format: String,
        /// The folder the files are written to (created if needed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

fn read_asset_json(file: &std::path::Path) -> Result<String, CoreError> {
    if file.as_os_str() == "-" {
        return guardian::read_input(std::io::stdin().lock(), std::path::Path::new("stdin"));
    }
    guardian::read_input_file(file)
}

/// `guardian check` and `guardian rules`; `core` is open only when a
/// workspace is named.
pub(crate) async fn run_guardian(core: Option<&Core>, command: GuardianCommand, out: &mut Output) -> Result<(), CoreError> {
    match command {
        GuardianCommand::Check { platform, workspace, file } => {
            let json = read_asset_json(&file)?;
            let report = match (core, workspace) {
                (Some(core), workspace) => core.guardian_check(platform, &json, workspace).await?,
                (None, _) => guardian::check_copy(platform, &json)?,
            };
            out.document(&report, |text| write_report(text, &report));
        }
        GuardianCommand::Rules { platform } => {
            let rules = guardian::rules(platform)?;
            out.document(&rules, |text| write_rules(text, &rules));
        }
    }
    Ok(())
}

pub(crate) async fn run_asset(core: &Core, command: AssetCommand, out: &mut Output) -> Result<(), CoreError> {
    let (campaign_id, asset_id, asset) = match command {
        AssetCommand::Generate(_) => unreachable!("handled before the data directory is opened"),
        AssetCommand::Add { campaign, move_id, kind, file, set } => {
            let content = match file {
                Some(file) => rf_core::parse_asset_content(kind, &read_asset_json(&file)?)?,
                None => rf_core::asset_content_from_fields(kind, None, &set)?,
            };
            let asset_id = core.add_asset(campaign, move_id, content).await?;
            let view = core.asset(asset_id).await?;
            (campaign, asset_id, view.asset)
        }
        AssetCommand::Edit { asset_id, file, set } => {
            let current = core.asset(asset_id).await?;
            let content = match file {
                Some(file) => rf_core::parse_asset_content(current.kind, &read_asset_json(&file)?)?,
                None => rf_core::asset_content_from_fields(current.kind, Some(&current.asset.content), &set)?,
            };
            let (campaign_id, asset) = core.edit_asset(asset_id, content).await?;
            (campaign_id, asset_id, asset)
        }
        AssetCommand::Show { asset_id } => {
            let view = core.asset(asset_id).await?;
            (view.campaign_id, asset_id, view.asset)
        }
        AssetCommand::List { campaign, move_id } => {
            let assets = core.list_assets(campaign, move_id).await?;
            out.document(&assets, |text| {
                if assets.is_empty() {
                    text.push_str("no assets: add one with `raptorflow asset add --campaign ID --kind KIND --file ASSET.json`\n");
                }
                for view in &assets {
                    let verdict = rf_core::guardian::Verdict::of(&view.asset.findings);
                    text.push_str(&format!("{}  {:<13} {:<17} {}\n", view.asset_id, view.kind, view.asset.status, verdict.as_str()));
                }
            });
            return Ok(());
        }
        AssetCommand::Delete { asset_id } => {
            let (campaign_id, asset) = core.delete_asset(asset_id).await?;
            out.document(&json!({ "deleted": asset_id, "campaign_id": campaign_id, "kind": asset.content.kind() }), |text| {
                text.push_str(&format!("deleted asset {asset_id} ({})\n", asset.content.kind()));
            });
            return Ok(());
        }
        AssetCommand::Publish { asset_id, to, checked } => {
            let service: rf_core::connectors::Service = to.parse()?;
            let published = core.publish_asset(asset_id, service, checked).await?;
            out.document(&published, |text| text.push_str(&format!("published asset {asset_id} on {service}: {}\n", published.url)));
            return Ok(());
        }
        AssetCommand::Design { asset_id, new } => {
            let made = core.design_asset(asset_id, new).await?;
            out.document(&made, |text| {
                let how = match made.size {
                    Some((w, h)) => format!("made a {w} × {h} design"),
                    None => "already has a design".to_owned(),
                };
                text.push_str(&format!("asset {asset_id} {how} in Canva: edit it at {}\n", made.design.edit_url));
                if let Some(old) = &made.replaced {
                    text.push_str(&format!("the earlier design {} stays in Canva: {}\n", old.id, old.edit_url));
                }
            });
            return Ok(());
        }
        AssetCommand::ExportDesign { asset_id, format, out: folder } => {
            let format: rf_core::connectors::canva::ExportFormat =
                format.parse().map_err(|reason| rf_core::domain::DomainError::Invalid { field: "--format", reason })?;
            let exported = core.export_design(asset_id, format, &folder, |step| out.progress(step)).await?;
            out.document(&exported, |text| {
                for file in &exported.files {
                    text.push_str(&format!("wrote {}\n", file.display()));
                }
            });
            return Ok(());
        }
        AssetCommand::Check { asset_id } => {
            let (campaign_id, asset, _) = core.check_asset(asset_id).await?;
            (campaign_id, asset_id, asset)
        }
        AssetCommand::SetStatus { asset_id, status, note } => {
            let (campaign_id, asset) = core.review_asset(asset_id, status, note.as_deref()).await?;
            (campaign_id, asset_id, asset)
        }
    };
    write_asset(out, campaign_id, asset_id, &asset);
    Ok(())
}

fn write_asset(out: &mut Output, campaign_id: CampaignId, asset_id: AssetId, asset: &Asset) {
    let verdict = rf_core::guardian::Verdict::of(&asset.findings);
    let value = json!({
        "id": asset_id,
        "campaign_id": campaign_id,
        "move_id": asset.move_id,
        "kind": asset.content.kind(),
        "content": asset.content,
        "status": asset.status,
        "verdict": verdict,
        "findings": asset.findings,
        "review_note": asset.review_note,
        "published_url": asset.published_url,
        "design": asset.design,
    });
    out.document(&value, |text| {
        text.push_str(&format!("{asset_id}  {}  {}\n", asset.content.kind(), asset.status));
        if !asset.review_note.is_empty() {
            text.push_str(&format!("review note: {}\n", rf_core::domain::escape_for_display(&asset.review_note)));
        }
        if let Some(url) = &asset.published_url {
            text.push_str(&format!("published at {url}\n"));
        }
        if let Some(design) = &asset.design {
            text.push_str(&format!("{} design {}: {}\n", design.service, design.id, design.edit_url));
        }
        write_findings(text, verdict.as_str(), &asset.findings);
    });
}

fn write_report(text: &mut String, report: &Report) {
    write_findings(text, report.verdict.as_str(), &report.findings);
}

fn write_findings(text: &mut String, verdict: &str, findings: &[GuardianFinding]) {
    let n = findings.len();
    text.push_str(&format!("verdict: {verdict} ({n} finding{})\n", if n == 1 { "" } else { "s" }));
    for finding in findings {
        let place = match (&finding.field[..], finding.span) {
            ("", _) => "(whole asset)".to_owned(),
            (field, Some(span)) => format!("{field} [{}..{})", span.start, span.end),
            (field, None) => field.to_owned(),
        };
        text.push_str(&format!("  {:<5}  {place}  {}\n         {}\n", finding.severity.as_str(), finding.rule, finding.message));
    }
}

fn write_rules(text: &mut String, rules: &[RuleInfo]) {
    for rule in rules {
        let fields = if rule.fields.is_empty() { "all text".to_owned() } else { rule.fields.join(", ") };
        text.push_str(&format!(
            "{:<40} {:<5} {:<20} {:<12} fields: {fields}\n    {} (checked {})\n",
            rule.id,
            rule.severity.as_str(),
            rule.category.as_str(),
            rule.platforms.join(","),
            rule.source,
            rule.checked
        ));
    }
    text.push_str(&format!("{} rules\n", rules.len()));
}
