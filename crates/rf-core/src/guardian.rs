//! Guardian in the application: checks copy handed in by a shell against the
//! policy packs and a workspace's brand codex, and checks every stored asset
//! when it is added, re-checked or moved towards approval, keeping the
//! findings on the asset. An asset with a blocking finding cannot be
//! approved or published.

use std::{path::Path, sync::OnceLock};

use rf_domain::{Asset, AssetContent, AssetId, AssetStatus, BrandCodex, CampaignId, FindingSeverity, GuardianFinding, WorkspaceId, edit};
use rf_guardian::{BrandRules, Guardian};
pub use rf_guardian::{GuardianError, Platform, Report, RuleInfo, Verdict};

use crate::{Core, CoreError, Result, campaigns::asset_not_found};

/// The shipped policy packs, loaded and validated once per process.
pub fn policy() -> Result<&'static Guardian> {
    static POLICY: OnceLock<std::result::Result<Guardian, rf_guardian::GuardianError>> = OnceLock::new();
    POLICY.get_or_init(Guardian::builtin).as_ref().map_err(|err| CoreError::Guardian(err.clone()))
}

/// Checks an asset given as JSON against the platform's rules and the
/// rules for every platform, without any brand rules (no workspace).
pub fn check_copy(platform: Platform, json: &str) -> Result<Report> {
    let policy = policy()?;
    Ok(policy.check(&policy.parse_asset(platform, json)?, &BrandRules::none()))
}

/// The loaded rules, all or those that apply to one platform.
pub fn rules(platform: Option<Platform>) -> Result<Vec<RuleInfo>> {
    Ok(policy()?.rules(platform).into_iter().cloned().collect())
}

pub use crate::input::MAX_INPUT_BYTES;

/// Reads a small UTF-8 input file (an asset or brand codex as JSON), at most
/// [`MAX_INPUT_BYTES`], refused while reading if longer. A missing,
/// oversized or non-UTF-8 file is bad input, named by its path.
pub fn read_input_file(path: &Path) -> Result<String> {
    let bytes = crate::input::read_limited(path, "input file", MAX_INPUT_BYTES).map_err(|err| match err {
        CoreError::Io { source, .. } => CoreError::InputFile { path: path.to_owned(), reason: source.to_string() },
        other => other,
    })?;
    input_text(bytes, path)
}

/// Reads an asset from a stream (the CLI's stdin) under the same limit as
/// [`read_input_file`]; `name` is what errors call it.
pub fn read_input(reader: impl std::io::Read, name: &Path) -> Result<String> {
    let bytes = crate::input::read_limited_from(reader, name, "input", MAX_INPUT_BYTES, 0)?;
    input_text(bytes, name)
}

fn input_text(bytes: Vec<u8>, path: &Path) -> Result<String> {
    String::from_utf8(bytes)
        .map_err(|err| CoreError::InputFile { path: path.to_owned(), reason: format!("not UTF-8 text (byte {})", err.utf8_error().valid_up_to()) })
}

/// Guardian's findings on a stored asset's content. A declared Special Ad
/// Category no pack knows is refused.
pub(crate) fn findings_of(policy: &Guardian, brand: &BrandRules, content: &AssetContent) -> Result<Vec<GuardianFinding>> {
    let asset = rf_guardian::Asset::from_content(content);
    policy.check_declaration(&asset)?;
    Ok(policy.check(&asset, brand).findings)
}

/// A status that needs Guardian's consent.
fn needs_a_pass(status: AssetStatus) -> bool {
    matches!(status, AssetStatus::Approved | AssetStatus::Published)
}

/// The blocking findings, one per line, for an error message.
pub(crate) fn describe_blocks(findings: &[GuardianFinding]) -> String {
    findings
        .iter()
        .filter(|f| f.severity == FindingSeverity::Block)
        .map(|f| {
            let field = if f.field.is_empty() { String::new() } else { format!(" {}:", f.field) };
            format!("\n  [{}]{field} {}", f.rule, f.message)
        })
        .collect()
}

/// Adds the brand's required disclaimers an asset lacks to the end of its
/// main text (an email's body, an ad's primary or intro text, a post), the
/// way a mail tool adds its footer: a writer need not remember them, and
/// Guardian still checks that they are there. Search ads, video scripts
/// and image briefs have no such text and are left as they are.
pub(crate) fn attach_disclaimers(brand: &BrandCodex, content: &mut AssetContent) -> Result<()> {
    let rules = BrandRules::new(brand)?;
    let texts = crate::work::asset_texts(content);
    let missing = rules.missing_disclaimers(content.kind(), &texts.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>());
    let field = match content {
        AssetContent::Email { body: text, .. }
        | AssetContent::LinkedinAd { intro_text: text, .. }
        | AssetContent::MetaAd { primary_text: text, .. }
        | AssetContent::LinkedinPost { text }
        | AssetContent::XPost { text }
        | AssetContent::BlogPost { body_markdown: text, .. } => text,
        _ => return Ok(()),
    };
    for disclaimer in missing {
        if !field.trim().is_empty() {
            field.push_str("\n\n");
        }
        field.push_str(&disclaimer);
    }
    Ok(())
}

impl Core {
    /// Checks an asset given as JSON for `platform`, with the brand rules of
    /// `workspace` when one is named.
    pub async fn guardian_check(&self, platform: Platform, json: &str, workspace: Option<WorkspaceId>) -> Result<Report> {
        let policy = policy()?;
        let asset = policy.parse_asset(platform, json)?;
        let brand = match workspace {
            Some(workspace_id) => BrandRules::new(&self.workspace(workspace_id).await?.brand)?,
            None => BrandRules::none(),
        };
        Ok(policy.check(&asset, &brand))
    }

    /// Guardian's report on content that is not stored (an asset being
    /// written), under the brand codex of `workspace_id`. Changes nothing.
    pub async fn check_content(&self, workspace_id: WorkspaceId, content: &AssetContent) -> Result<Report> {
        let brand = self.workspace(workspace_id).await?.brand;
        let findings = self.guardian_findings(&brand, content)?;
        Ok(Report { verdict: Verdict::of(&findings), findings })
    }

    /// Guardian's findings on a stored asset's content under a brand codex.
    pub(crate) fn guardian_findings(&self, brand: &BrandCodex, content: &AssetContent) -> Result<Vec<GuardianFinding>> {
        findings_of(policy()?, &BrandRules::new(brand)?, content)
    }

    /// Checks a stored asset again (the brand codex or the packs may have
    /// changed since it was written) and stores the findings on it.
    pub async fn check_asset(&self, asset_id: AssetId) -> Result<(CampaignId, Asset, Report)> {
        let (campaign_id, asset) = self.recheck_asset(asset_id, None).await?;
        let report = Report { verdict: Verdict::of(&asset.findings), findings: asset.findings.clone() };
        Ok((campaign_id, asset, report))
    }

    /// Sets an asset's review status. Guardian checks the asset first and
    /// the findings are stored either way; approving or publishing is
    /// refused while any finding blocks.
    pub async fn set_asset_status(&self, asset_id: AssetId, status: AssetStatus) -> Result<(CampaignId, Asset)> {
        self.review_asset(asset_id, status, None).await
    }

    /// [`Core::set_asset_status`] with the reviewer's note (what to change,
    /// why it was approved), which replaces the asset's previous note; `None`
    /// keeps it. A refused approval stores no note.
    pub async fn review_asset(&self, asset_id: AssetId, status: AssetStatus, note: Option<&str>) -> Result<(CampaignId, Asset)> {
        let note = match note {
            Some(text) => Some(rf_domain::validate_text("review note", text)?),
            None => None,
        };
        let (campaign_id, asset) = self.recheck_asset(asset_id, Some((status, note))).await?;
        if needs_a_pass(status) && Verdict::of(&asset.findings) == Verdict::Block {
            return Err(CoreError::Blocked { asset: asset_id.to_string(), status: status.to_string(), findings: describe_blocks(&asset.findings) });
        }
        if status == AssetStatus::Approved {
            let (workspace, _) = self.campaign_home(campaign_id).await?;
            self.record_activity(workspace.id, "asset_approved").await;
        }
        Ok((campaign_id, asset))
    }

    /// Runs Guardian on a stored asset, stores its findings and, when the
    /// asset may take it, the new status, in one change.
    async fn recheck_asset(&self, asset_id: AssetId, review: Option<(AssetStatus, Option<String>)>) -> Result<(CampaignId, Asset)> {
        let campaign_id = self.locate_asset(asset_id).await?;
        let (workspace, doc_id) = self.campaign_home(campaign_id).await?;
        let policy = policy()?;
        let brand = BrandRules::new(&workspace.brand)?;
        let message = match &review {
            Some((status, _)) => format!("check asset {asset_id} and set its status to {status}"),
            None => format!("check asset {asset_id}"),
        };
        let asset = self
            .docs()
            .change(&doc_id, message, move |tx| {
                let mut asset = edit::read_asset(tx, asset_id)?.ok_or_else(|| asset_not_found(asset_id))?;
                // Guardian agents' findings stay: the rules cannot redo them.
                let reviewed: Vec<_> = asset.findings.iter().filter(|f| f.category == rf_domain::FindingCategory::ModelReview).cloned().collect();
                asset.findings = findings_of(policy, &brand, &asset.content)?;
                asset.findings.extend(reviewed);
                if let Some((status, note)) = review
                    && !(needs_a_pass(status) && Verdict::of(&asset.findings) == Verdict::Block)
                {
                    asset.status = status;
                    if let Some(note) = note {
                        asset.review_note = note;
                    }
                }
                edit::put_asset(tx, asset_id, &asset)?;
                Ok::<_, CoreError>(asset)
            })
            .await?;
        Ok((campaign_id, asset))
    }
}
