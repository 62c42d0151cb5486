//! Publishing an approved asset through a connector: an X post on the
//! signed-in X account, or a LinkedIn post on the organisation's page.
//! Only an asset a person approved is posted, and only when asked
//! (`raptorflow asset publish ASSET --to x|linkedin`); Guardian
//! checks it again first (the packs or the brand codex may have changed
//! since the approval). Once posted, the asset is `published` and keeps the
//! post's address. A post is never retried automatically: if X's answer is
//! lost, the error says to check the account, because a second try could
//! publish twice. The ledger row of each post names the asset (its caller
//! is `publish:ASSET`), so an asset whose earlier post went out, or may
//! have, is not posted again until the user says they checked
//! (`--checked`), even from another process; publishing holds a lock file
//! in the data folder, so the CLI and the app never post at once.

use rf_connectors::{Call, FetchOptions, Service, linkedin, x};
use rf_domain::{AssetContent, AssetId, AssetStatus, DomainError, edit};
use rf_guardian::Verdict;
use rf_metering::ledger::{CallContext, ReportFilter};
use serde::Serialize;

use crate::{Core, CoreError, Result, guardian::describe_blocks};

/// A published asset.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub asset_id: AssetId,
    pub service: Service,
    /// The post's id at the service.
    pub post_id: String,
    pub url: String,
    pub cost_micro_usd: u64,
}

impl Core {
    /// Publishes an approved asset through `service` (see the module).
    /// `checked`: the user looked at the account after a post whose outcome
    /// is unknown and found it missing, so it may be sent again.
    pub async fn publish_asset(&self, asset_id: AssetId, service: Service, checked: bool) -> Result<Published> {
        if !matches!(service, Service::X | Service::LinkedIn) {
            return Err(
                DomainError::Invalid { field: "service", reason: format!("only X and LinkedIn posts can be published so far, not to {service}") }.into()
            );
        }
        // The status is read under the lock, so a second request waits and
        // then finds the asset published: this process's lock, then the
        // data folder's, which the CLI and the app share.
        let _publishing = self.inner.publishing.lock().await;
        let _across_processes = self.publish_file_lock().await?;
        let view = self.asset(asset_id).await?;
        let text = match (service, &view.asset.content) {
            (Service::X, AssetContent::XPost { text }) | (Service::LinkedIn, AssetContent::LinkedinPost { text }) => text.clone(),
            _ => {
                let wanted = if service == Service::X { "an x_post" } else { "a linkedin_post" };
                return Err(DomainError::Invalid {
                    field: "asset kind",
                    reason: format!("asset {asset_id} is a {}: only {wanted} can be posted to {}", view.kind, service.info().title),
                }
                .into());
            }
        };
        if let Some(url) = &view.asset.published_url {
            return Err(CoreError::Conflict { what: format!("asset {asset_id} was already posted, at {url}: add a new asset to post again") });
        }
        match view.asset.status {
            AssetStatus::Approved => {}
            AssetStatus::Published => {
                let at = view.asset.published_url.as_deref().map(|url| format!(" at {url}")).unwrap_or_default();
                return Err(CoreError::Conflict { what: format!("asset {asset_id} is already published{at}") });
            }
            other => {
                return Err(CoreError::Conflict {
                    what: format!("asset {asset_id} is {other}: it is posted only once approved (`raptorflow asset set-status {asset_id} approved`)"),
                });
            }
        }
        let (index, doc_id) = self.campaign_open_for_changes(view.campaign_id).await?;
        // What is posted is what Guardian passed just now.
        let (_, checked_asset, report) = self.check_asset(asset_id).await?;
        if report.verdict == Verdict::Block {
            return Err(CoreError::Blocked { asset: asset_id.to_string(), status: "published".into(), findings: describe_blocks(&report.findings) });
        }
        if checked_asset.content != view.asset.content || checked_asset.status != AssetStatus::Approved {
            return Err(CoreError::Conflict { what: format!("asset {asset_id} changed while it was being published: look at it and publish again") });
        }
        let posted_content = checked_asset.content.clone();
        let gateway = self.inner.engine.gateway().await?;
        let caller = format!("publish:{asset_id}");
        let earlier = gateway.ledger().calls(&ReportFilter { workspace_id: Some(index.id), month: None }).await?;
        if let Some(earlier) = earlier.iter().rev().find(|r| {
            r.context.caller.as_deref() == Some(caller.as_str()) && r.model.as_str() == "create-post" && matches!(r.outcome.as_str(), "ok" | "unconfirmed")
        }) {
            let when = rf_signals::format_day(earlier.at_ms.div_euclid(86_400_000));
            let title = &service.info().title;
            if earlier.outcome == "ok" {
                return Err(CoreError::Conflict {
                    what: format!("asset {asset_id} was posted to {title} on {when}, and {title} confirmed it: add a new asset to post again"),
                });
            }
            if !checked {
                return Err(CoreError::Conflict {
                    what: format!(
                        "asset {asset_id} was sent to {title} on {when} and no confirmation came back: check the account; if the post is not there, publish again with --checked"
                    ),
                });
            }
        }
        let (connector, online) = self.configured_connector(service).await?;
        let user = CallContext { workspace_id: Some(index.id), ..CallContext::user(self.user().id.clone()) };
        let context = CallContext { caller: Some(caller), ..user.clone() };
        let call = Call { connector: &connector, context: &context, options: FetchOptions { allow_network: online, use_cache: false } };
        let (post_id, url, cost_micro_usd) = match service {
            Service::X => {
                let posted = x::create_post(&gateway, call, &text).await?;
                (posted.value.id.clone(), posted.value.url(), posted.cost_micro_usd)
            }
            _ => {
                // Found under the user's name, not the asset's: the
                // asset's rows are its posts.
                // Never from the cache: the member may have changed.
                let lookup = Call { context: &user, ..call };
                let organization = self.linkedin_organization(lookup, index.id).await?;
                let posted = linkedin::create_post(&gateway, call, &organization, &text).await?;
                (posted.value.urn, posted.value.url, posted.cost_micro_usd)
            }
        };
        let stored_url = url.clone();
        let stored = self
            .docs()
            .change(&doc_id, format!("publish asset {asset_id}"), move |tx| {
                let mut asset =
                    edit::read_asset(tx, asset_id)?.ok_or_else(|| DomainError::Invalid { field: "asset id", reason: format!("asset {asset_id} is gone") })?;
                // The post exists whatever happened meanwhile: keep where it is.
                asset.published_url = Some(stored_url);
                let unchanged = asset.content == posted_content && asset.status == AssetStatus::Approved;
                if unchanged {
                    asset.status = AssetStatus::Published;
                }
                edit::put_asset(tx, asset_id, &asset)?;
                Ok::<_, CoreError>(unchanged)
            })
            .await;
        // The post is out: say where, whatever else failed.
        match stored {
            Ok(true) => {}
            Ok(false) => {
                return Err(CoreError::Conflict {
                    what: format!(
                        "the post is published at {url}, but asset {asset_id} was edited or its status changed meanwhile, so it was not marked published"
                    ),
                });
            }
            Err(err) => {
                return Err(CoreError::Conflict { what: format!("the post is published at {url}, but asset {asset_id} could not be marked published: {err}") });
            }
        }
        Ok(Published { asset_id, service, post_id, url, cost_micro_usd })
    }
}

impl Core {
    /// `DATA_DIR/publish.lock`, locked for as long as the returned file is
    /// kept: another process publishing waits for it, then finds this
    /// one's post in the ledger.
    async fn publish_file_lock(&self) -> Result<std::fs::File> {
        let path = self.data_dir().join("publish.lock");
        let io = |action, source| CoreError::Io { action, path: path.clone(), source };
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|err| io("open the publishing lock", err))?;
        match tokio::task::spawn_blocking(move || file.lock().map(|()| file)).await {
            Ok(Ok(file)) => Ok(file),
            Ok(Err(err)) => Err(io("take the publishing lock", err)),
            Err(err) => Err(io("take the publishing lock", std::io::Error::other(err.to_string()))),
        }
    }
}
