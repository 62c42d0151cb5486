//! Market signals of a workspace: a sweep asks each configured news
//! connector about the company and each competitor of the brand codex, and
//! each configured search connector (Semrush, Ahrefs) about the brand's
//! website, and keeps the answers as daily series (mentions in the news and
//! on X, news results, share of voice, the posting rate on X of accounts
//! named `@handle` in the brand codex, organic traffic and keywords,
//! Domain Rating, and the brand's LinkedIn page: its impressions,
//! engagement and posting rate) in
//! `signals.sqlite3`; reading a series gives its forecast, change
//! points and anomalies (rf-signals), in numbers and in words.

use rf_connectors::{Call, ConnectorError, FetchOptions, Hit, Service, ahrefs, brave, linkedin, newsapi, semrush, x};
use rf_domain::{WorkspaceId, WorkspaceIndex};
use rf_metering::ledger::CallContext;
pub use rf_signals::{Analysis, Point, SeriesSummary, format_day, today};
use serde::Serialize;
use serde_json::json;

use crate::{CoreError, Result};

/// Forecast days and interval when none are asked for.
pub const DEFAULT_HORIZON: usize = 14;
pub const DEFAULT_LEVEL: f64 = 0.8;

/// Hours between automatic sweeps when the settings do not say.
pub const DEFAULT_EVERY_HOURS: u64 = 24;

/// The connectors a sweep asks about the company and its competitors, in order.
const SWEPT: [Service; 3] = [Service::NewsApi, Service::Brave, Service::X];

/// The connectors a sweep asks about the brand's website, in order.
const SEO: [Service; 2] = [Service::Semrush, Service::Ahrefs];

/// The connectors a sweep asks about the brand's own page.
const OWN: [Service; 1] = [Service::LinkedIn];

/// Why signals could not be stored, read or fetched.
#[derive(Debug, thiserror::Error)]
pub enum SignalsError {
    #[error(transparent)]
    Signals(#[from] rf_signals::SignalError),
    #[error(
        "no news connector is configured, so there is nothing to fetch: add one with `raptorflow connectors add newsapi --key-stdin` (or brave, or sign in to x with `raptorflow connectors auth x --client-id ID`; semrush and ahrefs measure the brand's website, linkedin its page)"
    )]
    NothingConfigured,
    #[error(
        "this workspace has nothing to measure: the LinkedIn page, the only source configured, belongs to workspace {0} (`raptorflow connectors set linkedin --workspace ID` moves it)"
    )]
    PageElsewhere(WorkspaceId),
    #[error("the workspace has no company name or competitors to look for: set its brand codex first (`raptorflow workspace set-brand`)")]
    NothingToTrack,
}

/// One value a sweep recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedSignal {
    pub series: String,
    pub value: f64,
    /// Read from a cached answer (nothing was sent).
    pub cached: bool,
}

/// A news item a sweep found, kept as a source the digest can cite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalSource {
    /// The company or competitor it was found for.
    pub subject: String,
    pub service: Service,
    #[serde(flatten)]
    pub hit: Hit,
}

/// What a sweep did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalSweep {
    pub workspace_id: WorkspaceId,
    pub day: String,
    pub recorded: Vec<RecordedSignal>,
    pub sources: Vec<SignalSource>,
    /// Calls that went out, and what they cost.
    pub calls_sent: u64,
    pub cache_hits: u64,
    pub cost_micro_usd: u64,
    /// Calls that failed or were not made, and why.
    pub problems: Vec<String>,
}

impl SignalSweep {
    /// Counts one connector call: sent (with its cost) or answered from the cache.
    fn count_call(&mut self, cached: bool, cost_micro_usd: u64) {
        if cached {
            self.cache_hits += 1;
        } else {
            self.calls_sent += 1;
        }
        self.cost_micro_usd += cost_micro_usd;
    }
}

/// A series with its reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalView {
    pub series: String,
    pub points: Vec<Point>,
    pub analysis: Analysis,
    /// The reading in words, each sentence naming the series.
    pub summary: Vec<String>,
}

/// The company and the competitors to look for.
fn subjects(index: &WorkspaceIndex) -> Vec<String> {
    named_accounts(index).into_iter().map(|(name, _)| name).collect()
}

/// The company and its competitors, each with the X handle its entry
/// names (`Brompton (@Brompton): folding bikes`), if any.
fn named_accounts(index: &WorkspaceIndex) -> Vec<(String, Option<String>)> {
    let company = if index.brand.company.trim().is_empty() { index.name.clone() } else { index.brand.company.clone() };
    let mut named = vec![split_handle(&company)];
    for entry in &index.brand.competitors {
        let (name, handle) = split_handle(&crate::work::competitor_name(entry));
        if !name.is_empty() && !named.iter().any(|(s, _)| s.eq_ignore_ascii_case(&name)) {
            named.push((name, handle));
        }
    }
    named.retain(|(s, _)| !s.is_empty());
    named
}

/// A name without the `@handle` it carries, and the handle; a name that is
/// only a handle keeps it as its name. Quotes are dropped (the name goes
/// into search queries as a quoted phrase).
fn split_handle(name: &str) -> (String, Option<String>) {
    let name = name.replace('"', "");
    for (at, _) in name.match_indices('@') {
        let handle: String = name[at + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let before_ok = at == 0 || !name[..at].ends_with(|c: char| c.is_ascii_alphanumeric());
        if before_ok && rf_connectors::x::is_handle(&handle) {
            // `@` and the handle are ASCII, so these are character boundaries.
            let rest = format!("{}{}", &name[..at], &name[at + 1 + handle.len()..]);
            let cleaned = rest.replace("()", "").split_whitespace().collect::<Vec<_>>().join(" ");
            return (if cleaned.is_empty() { handle.clone() } else { cleaned }, Some(handle));
        }
    }
    (name.trim().to_owned(), None)
}

/// The reading of a series in words.
pub fn summary(series: &str, analysis: &Analysis) -> Vec<String> {
    let mut lines = Vec::new();
    for change in &analysis.change_points {
        let direction = if change.mean_after > change.mean_before { "rose" } else { "fell" };
        lines.push(format!("{series} {direction} from {:.1} to {:.1} a day on {} (a change point)", change.mean_before, change.mean_after, change.day));
    }
    for anomaly in &analysis.anomalies {
        lines.push(format!(
            "{series} was {:.1} on {}, outside the expected {:.1} to {:.1} (an anomaly)",
            anomaly.value, anomaly.day, anomaly.lower, anomaly.upper
        ));
    }
    match (&analysis.forecast, &analysis.note) {
        (Some(forecast), _) => {
            let last = forecast.point.len().saturating_sub(1);
            lines.push(format!(
                "{series} is expected at {:.1} by {} ({:.0} % interval {:.1} to {:.1}; {})",
                forecast.point[last],
                forecast.days[last],
                forecast.level * 100.0,
                forecast.lower[last],
                forecast.upper[last],
                forecast.model
            ));
        }
        (None, Some(note)) => lines.push(format!("{series}: no forecast yet, {note}")),
        (None, None) => {}
    }
    lines
}

impl crate::Core {
    /// The workspace's signal series.
    pub async fn signals(&self, workspace: WorkspaceId) -> Result<Vec<SeriesSummary>> {
        self.workspace(workspace).await?;
        let signals = self.inner.engine.signals().await?;
        Ok(signals.series(workspace).await.map_err(SignalsError::from)?)
    }

    /// A series with its forecast over `horizon` days at `level`, change
    /// points and anomalies.
    pub async fn signal(&self, workspace: WorkspaceId, series: &str, horizon: usize, level: f64) -> Result<SignalView> {
        if !(1..=365).contains(&horizon) {
            return Err(CoreError::Invalid(rf_domain::DomainError::Invalid { field: "horizon", reason: format!("{horizon} days: use 1 to 365") }));
        }
        if !(0.5..0.999).contains(&level) {
            return Err(CoreError::Invalid(rf_domain::DomainError::Invalid { field: "level", reason: format!("{level}: use 0.5 to 0.99") }));
        }
        self.workspace(workspace).await?;
        let signals = self.inner.engine.signals().await?;
        let points = signals.points(workspace, series).await.map_err(SignalsError::from)?;
        let analysis = rf_signals::analyse(series, &points, horizon, level).map_err(SignalsError::from)?;
        let summary = summary(series, &analysis);
        Ok(SignalView { series: series.to_owned(), points, analysis, summary })
    }

    /// The change points and anomalies of each of the workspace's series
    /// with two days or more, in words (at most three lines a series), for
    /// the intelligence sweep. The caller has checked the workspace.
    pub(crate) async fn series_findings(&self, workspace: WorkspaceId) -> Result<Vec<String>> {
        let signals = self.inner.engine.signals().await?;
        let mut findings = Vec::new();
        for entry in signals.series(workspace).await.map_err(SignalsError::from)?.iter().filter(|s| s.points >= 2) {
            let points = signals.points(workspace, &entry.series).await.map_err(SignalsError::from)?;
            let Ok(analysis) = rf_signals::analyse(&entry.series, &points, DEFAULT_HORIZON, DEFAULT_LEVEL) else { continue };
            findings.extend(summary(&entry.series, &Analysis { forecast: None, note: None, ..analysis }).into_iter().take(3));
        }
        Ok(findings)
    }

    /// Asks each configured news connector about the company and its
    /// competitors and records today's values. A connector that fails is
    /// reported in `problems` and the others go on; a repeat within the
    /// endpoints' TTL is answered from the cache, at no cost.
    pub async fn fetch_signals(&self, workspace: WorkspaceId) -> Result<SignalSweep> {
        let index = self.workspace(workspace).await?;
        let subjects = subjects(&index);
        let settings = self.settings()?;
        let is_configured = |s: &Service| settings.connectors.iter().any(|c| c.name == s.name());
        let configured: Vec<Service> = SWEPT.into_iter().filter(is_configured).collect();
        let seo: Vec<Service> = SEO.into_iter().filter(is_configured).collect();
        // The LinkedIn page is measured in its own workspace only.
        let own: Vec<Service> =
            OWN.into_iter().filter(|s| settings.connectors.iter().any(|c| c.name == s.name() && c.workspace.is_none_or(|own| own == workspace))).collect();
        if configured.is_empty() && seo.is_empty() && own.is_empty() {
            let page = settings.connectors.iter().find(|c| c.name == Service::LinkedIn.name()).and_then(|c| c.workspace);
            return Err(page.map_or(SignalsError::NothingConfigured, SignalsError::PageElsewhere).into());
        }
        if subjects.is_empty() && own.is_empty() {
            return Err(SignalsError::NothingToTrack.into());
        }
        let gateway = self.inner.engine.gateway().await?;
        let signals = self.inner.engine.signals().await?;
        let context = CallContext { workspace_id: Some(workspace), ..CallContext::user(self.user().id.clone()) };
        let day = today();
        let since = format_day(day - 1);
        let mut sweep = SignalSweep {
            workspace_id: workspace,
            day: format_day(day),
            recorded: Vec::new(),
            sources: Vec::new(),
            calls_sent: 0,
            cache_hits: 0,
            cost_micro_usd: 0,
            problems: Vec::new(),
        };
        for service in configured {
            let (connector, online) = match self.configured_connector(service).await {
                Ok(found) => found,
                Err(err) => {
                    sweep.problems.push(err.to_string());
                    continue;
                }
            };
            let call = Call { connector: &connector, context: &context, options: FetchOptions { allow_network: online, use_cache: true } };
            let mut mentions = Vec::new();
            for subject in &subjects {
                let fetched = match service {
                    Service::NewsApi => {
                        let query = newsapi::Everything {
                            q: format!("\"{subject}\""),
                            from: Some(since.clone()),
                            sort_by: Some(newsapi::SortBy::PublishedAt),
                            page_size: Some(5),
                            ..newsapi::Everything::default()
                        };
                        newsapi::everything(&gateway, call, &query).await.map(|f| {
                            let hits: Vec<Hit> = f.value.articles.iter().map(Hit::from).collect();
                            (format!("mentions/newsapi/{subject}"), f.value.total_results as f64, hits, f.cached, f.cost_micro_usd, "everything", query.q)
                        })
                    }
                    // Yesterday's posts, 00:00 to 00:00 UTC (a whole day, and
                    // fixed, so that a repeat the same day is answered from
                    // the cache), up to X's page of 100.
                    Service::X => {
                        let query = x::Search {
                            query: format!("\"{subject}\" -is:retweet"),
                            start_time: Some(format!("{since}T00:00:00Z")),
                            end_time: Some(format!("{}T00:00:00Z", format_day(day))),
                            max_results: Some(100),
                        };
                        x::search_recent(&gateway, call, &query).await.map(|f| {
                            let hits: Vec<Hit> = f.value.data.iter().map(Hit::from).collect();
                            (
                                format!("mentions/x/{subject}"),
                                f64::from(f.value.meta.result_count),
                                hits,
                                f.cached,
                                f.cost_micro_usd,
                                "search-recent",
                                query.query,
                            )
                        })
                    }
                    _ => {
                        let query = brave::Search { q: subject.clone(), count: Some(20), freshness: Some("pd".into()), ..brave::Search::default() };
                        brave::news_search(&gateway, call, &query).await.map(|f| {
                            let hits = f.value.hits();
                            (format!("news/brave/{subject}"), hits.len() as f64, hits, f.cached, f.cost_micro_usd, "news-search", query.q)
                        })
                    }
                };
                match fetched {
                    Ok((series, value, hits, cached, cost, endpoint, query)) => {
                        sweep.count_call(cached, cost);
                        let shown: Vec<&Hit> = hits.iter().take(3).collect();
                        let evidence = json!({"service": service, "endpoint": endpoint, "query": query, "since": since, "items": shown});
                        signals.record(workspace, &series, &Point { day, value, evidence }).await.map_err(SignalsError::from)?;
                        sweep.recorded.push(RecordedSignal { series, value, cached });
                        sweep.sources.extend(hits.into_iter().take(3).map(|hit| SignalSource { subject: subject.clone(), service, hit }));
                        mentions.push(value);
                    }
                    Err(err) => sweep.problems.push(format!("{subject}: {err}")),
                }
            }
            let total: f64 = mentions.iter().sum();
            if service == Service::NewsApi && mentions.len() == subjects.len() && total > 0.0 {
                let series = "share-of-voice/newsapi".to_owned();
                let value = 100.0 * mentions[0] / total;
                let evidence = json!({"service": service, "of": subjects[0], "among": subjects, "mentions": mentions});
                signals.record(workspace, &series, &Point { day, value, evidence }).await.map_err(SignalsError::from)?;
                sweep.recorded.push(RecordedSignal { series, value, cached: false });
            }
            if service == Service::X {
                self.measure_posting_rates(call, &named_accounts(&index), day, &mut sweep).await?;
            }
        }
        for service in seo {
            self.measure_website(service, &index.brand.website, &context, day, &mut sweep).await?;
        }
        if !own.is_empty() {
            self.measure_linkedin_page(&context, day, &mut sweep).await?;
        }
        if sweep.recorded.is_empty() && !sweep.problems.is_empty() {
            return Err(CoreError::Conflict { what: format!("the sweep recorded nothing: {}", sweep.problems.join("; ")) });
        }
        Ok(sweep)
    }
}

impl crate::Core {
    /// Records `posting-rate/x/HANDLE`, posts a day over the 7 whole days
    /// before today (UTC), for each account named with an `@handle` (at
    /// most 100 posts are counted, X's page). A failure is the sweep's
    /// problem, not its end.
    async fn measure_posting_rates(&self, call: Call<'_>, named: &[(String, Option<String>)], day: i64, sweep: &mut SignalSweep) -> Result<()> {
        let gateway = self.inner.engine.gateway().await?;
        let signals = self.inner.engine.signals().await?;
        let since = format!("{}T00:00:00Z", format_day(day - 7));
        let until = format!("{}T00:00:00Z", format_day(day));
        for (subject, handle) in named.iter().filter_map(|(s, h)| h.as_ref().map(|h| (s, h))) {
            let measured = async {
                let user = x::user_by_username(&gateway, call, handle).await?;
                let posts = x::user_posts(&gateway, call, &user.value.id, (&since, &until), 100).await?;
                Ok::<_, ConnectorError>((user, posts))
            }
            .await;
            let (user, posts) = match measured {
                Ok(found) => found,
                Err(err) => {
                    sweep.problems.push(format!("@{handle}: {err}"));
                    continue;
                }
            };
            sweep.count_call(user.cached, user.cost_micro_usd);
            sweep.count_call(posts.cached, posts.cost_micro_usd);
            let count = posts.value.meta.result_count;
            let value = f64::from(count) / 7.0;
            let series = format!("posting-rate/x/{handle}");
            let hits: Vec<Hit> = posts.value.data.iter().map(Hit::from).collect();
            let evidence = json!({
                "service": Service::X, "endpoint": "user-posts", "account": handle, "since": since, "until": until, "posts": count,
                "more_than_counted": posts.value.meta.next_token.is_some(), "items": hits.iter().take(3).collect::<Vec<_>>(),
            });
            signals.record(sweep.workspace_id, &series, &Point { day, value, evidence }).await.map_err(SignalsError::from)?;
            sweep.recorded.push(RecordedSignal { series, value, cached: user.cached && posts.cached });
            sweep.sources.extend(hits.into_iter().take(3).map(|hit| SignalSource { subject: subject.clone(), service: Service::X, hit }));
        }
        Ok(())
    }
}

impl crate::Core {
    /// Records the brand's LinkedIn page: yesterday's impressions and
    /// engagement (percent) of its posts, from LinkedIn's share statistics
    /// (00:00 to 00:00 UTC), and its posting rate, posts a day over the 7
    /// whole days before today (at most 100 counted). A failure is the
    /// sweep's problem, not its end.
    async fn measure_linkedin_page(&self, context: &CallContext, day: i64, sweep: &mut SignalSweep) -> Result<()> {
        let (connector, online) = match self.configured_connector(Service::LinkedIn).await {
            Ok(found) => found,
            Err(err) => {
                sweep.problems.push(err.to_string());
                return Ok(());
            }
        };
        let call = Call { connector: &connector, context, options: FetchOptions { allow_network: online, use_cache: true } };
        let organization = match self.linkedin_organization(call, sweep.workspace_id).await {
            Ok(id) => id,
            Err(err) => {
                sweep.problems.push(format!("linkedin: {err}"));
                return Ok(());
            }
        };
        let gateway = self.inner.engine.gateway().await?;
        let signals = self.inner.engine.signals().await?;
        let workspace = sweep.workspace_id;
        let (start, end) = ((day - 1) * 86_400_000, day * 86_400_000);
        match linkedin::share_statistics(&gateway, call, &organization, (start, end)).await {
            Ok(fetched) => {
                sweep.count_call(fetched.cached, fetched.cost_micro_usd);
                let total = fetched.value.first().map(|e| e.total_share_statistics).unwrap_or_default();
                let evidence = json!({"service": Service::LinkedIn, "endpoint": "share-statistics", "organization": organization, "day": format_day(day - 1), "statistics": total});
                for (series, value) in [
                    (format!("impressions/linkedin/{organization}"), total.impression_count as f64),
                    (format!("engagement/linkedin/{organization}"), 100.0 * total.engagement),
                ] {
                    signals.record(workspace, &series, &Point { day, value, evidence: evidence.clone() }).await.map_err(SignalsError::from)?;
                    sweep.recorded.push(RecordedSignal { series, value, cached: fetched.cached });
                }
            }
            Err(err) => sweep.problems.push(format!("linkedin page {organization}: {err}")),
        }
        match linkedin::organization_posts(&gateway, call, &organization, 100).await {
            Ok(fetched) => {
                sweep.count_call(fetched.cached, fetched.cost_micro_usd);
                let window = (day - 7) * 86_400_000..day * 86_400_000;
                let posts: Vec<&linkedin::Post> = fetched.value.elements.iter().filter(|p| p.published_at.is_some_and(|at| window.contains(&at))).collect();
                let value = posts.len() as f64 / 7.0;
                let series = format!("posting-rate/linkedin/{organization}");
                let hits: Vec<Hit> = posts.iter().map(|p| Hit::from(*p)).collect();
                let evidence = json!({
                    "service": Service::LinkedIn, "endpoint": "organization-posts", "organization": organization,
                    "since": format_day(day - 7), "until": format_day(day), "posts": posts.len(),
                    "more_than_counted": fetched.value.elements.len() == 100, "items": hits.iter().take(3).collect::<Vec<_>>(),
                });
                signals.record(workspace, &series, &Point { day, value, evidence }).await.map_err(SignalsError::from)?;
                sweep.recorded.push(RecordedSignal { series, value, cached: fetched.cached });
            }
            Err(err) => sweep.problems.push(format!("linkedin page {organization}: {err}")),
        }
        Ok(())
    }
}

/// What one call of a website measurement gave: its series' values, and
/// how the call was answered.
struct Measured {
    values: Vec<(String, f64)>,
    cached: bool,
    cost: u64,
    endpoint: &'static str,
}

impl crate::Core {
    /// Records the brand website's organic traffic and keywords (Semrush's
    /// domain overview in its US database; Ahrefs' metrics across
    /// countries) and its Domain Rating (Ahrefs). A failure is the sweep's
    /// problem, not its end.
    async fn measure_website(&self, service: Service, website: &str, context: &CallContext, day: i64, sweep: &mut SignalSweep) -> Result<()> {
        let Some(domain) = rf_connectors::domain_of(website) else {
            sweep.problems.push(format!("{service}: the brand codex has no website to measure (`raptorflow workspace set-brand`)"));
            return Ok(());
        };
        let (connector, online) = match self.configured_connector(service).await {
            Ok(found) => found,
            Err(err) => {
                sweep.problems.push(err.to_string());
                return Ok(());
            }
        };
        let gateway = self.inner.engine.gateway().await?;
        let call = Call { connector: &connector, context, options: FetchOptions { allow_network: online, use_cache: true } };
        let date = format_day(day);
        let mut calls: Vec<std::result::Result<Measured, ConnectorError>> = Vec::new();
        match service {
            Service::Semrush => calls.push(semrush::domain_overview(&gateway, call, &domain, semrush::DEFAULT_DATABASE).await.map(|f| {
                let values = f.value.map_or_else(Vec::new, |o| {
                    let measured = [("organic-traffic", o.organic_traffic), ("organic-keywords", o.organic_keywords)];
                    measured.into_iter().filter_map(|(name, v)| v.map(|v| (format!("{name}/semrush/{domain}"), v as f64))).collect()
                });
                Measured { values, cached: f.cached, cost: f.cost_micro_usd, endpoint: "domain-ranks" }
            })),
            _ => {
                calls.push(ahrefs::metrics(&gateway, call, &domain, &date, None).await.map(|f| {
                    let values = vec![
                        (format!("organic-traffic/ahrefs/{domain}"), f.value.org_traffic as f64),
                        (format!("organic-keywords/ahrefs/{domain}"), f.value.org_keywords as f64),
                    ];
                    Measured { values, cached: f.cached, cost: f.cost_micro_usd, endpoint: "metrics" }
                }));
                calls.push(ahrefs::domain_rating(&gateway, call, &domain, &date).await.map(|f| Measured {
                    values: vec![(format!("domain-rating/ahrefs/{domain}"), f.value.domain_rating)],
                    cached: f.cached,
                    cost: f.cost_micro_usd,
                    endpoint: "domain-rating",
                }));
            }
        }
        let signals = self.inner.engine.signals().await?;
        let workspace = sweep.workspace_id;
        for outcome in calls {
            match outcome {
                Ok(Measured { values, cached, cost, endpoint }) => {
                    sweep.count_call(cached, cost);
                    for (series, value) in values {
                        let evidence = json!({"service": service, "endpoint": endpoint, "domain": domain, "date": date});
                        signals.record(workspace, &series, &Point { day, value, evidence }).await.map_err(SignalsError::from)?;
                        sweep.recorded.push(RecordedSignal { series, value, cached });
                    }
                }
                Err(err) => sweep.problems.push(format!("{domain}: {err}")),
            }
        }
        Ok(())
    }

    /// Sweeps each workspace whose newest signal is older than
    /// `signals_every_hours` (default 24; 0: never), or that has none. The
    /// app calls this every few minutes while it runs. Workspaces with
    /// nothing to track are passed over; without a news connector nothing
    /// happens at all.
    pub async fn sweep_due_signals(&self) -> Result<Vec<(WorkspaceId, Result<SignalSweep>)>> {
        let settings = self.settings()?;
        let every = settings.signals_every_hours.unwrap_or(DEFAULT_EVERY_HOURS);
        let configured = settings.connectors.iter().any(|c| SWEPT.iter().chain(&SEO).chain(&OWN).any(|s| s.name() == c.name));
        if every == 0 || !configured {
            return Ok(Vec::new());
        }
        let signals = self.inner.engine.signals().await?;
        let now = rf_domain::Timestamp::now().as_millis();
        let mut done = Vec::new();
        for workspace in self.list_workspaces().await? {
            let last = signals.last_recorded_at_ms(workspace.id).await.map_err(SignalsError::from)?;
            if last.is_some_and(|at| now - at < i64::try_from(every.saturating_mul(3_600_000)).unwrap_or(i64::MAX)) {
                continue;
            }
            match self.fetch_signals(workspace.id).await {
                // A workspace with nothing of its own to measure (the
                // LinkedIn page is another's) is passed over.
                Err(CoreError::Signals(SignalsError::NothingToTrack | SignalsError::NothingConfigured | SignalsError::PageElsewhere(_))) => {}
                outcome => done.push((workspace.id, outcome)),
            }
        }
        Ok(done)
    }
}

impl From<SignalsError> for CoreError {
    fn from(err: SignalsError) -> Self {
        CoreError::Signals(err)
    }
}

#[cfg(test)]
mod tests {
    use super::split_handle;

    #[test]
    fn a_handle_is_taken_out_of_a_name_and_a_name_that_is_only_a_handle_keeps_it() {
        assert_eq!(split_handle("Brompton (@Brompton)"), ("Brompton".into(), Some("Brompton".into())));
        assert_eq!(split_handle("Café Nero @caffenero"), ("Café Nero".into(), Some("caffenero".into())));
        assert_eq!(split_handle("@fernhill_f1"), ("fernhill_f1".into(), Some("fernhill_f1".into())));
        assert_eq!(split_handle("Kettle & Crane"), ("Kettle & Crane".into(), None));
        // An e-mail address is not a handle; quotes cannot break a query.
        assert_eq!(split_handle("Ask hello@fold.co"), ("Ask hello@fold.co".into(), None));
        assert_eq!(split_handle("The \"Fold\" Co"), ("The Fold Co".into(), None));
    }
}
