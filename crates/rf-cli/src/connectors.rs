//! `raptorflow connectors ...`: the marketing APIs (NewsAPI, Brave Search,
//! ...), their keys in the OS keyring, and searches through them.

use clap::Subcommand;
use rf_core::{
    Core, CoreError,
    ai::format_usd,
    connectors::{ConnectorOptions, ConnectorSearch, NewConnector, SearchResults},
    domain,
    sign_in::SignIn,
};

use crate::{output::Output, providers::read_key};

#[derive(Debug, Subcommand)]
pub(crate) enum ConnectorsCommand {
    /// Every service RaptorFlow knows: configured or not, key stored,
    /// limits, price, calls today, last outcome.
    List,
    /// Configure a service (or change it). The API key is read from stdin
    /// and kept in the OS keyring.
    Add {
        /// semrush, ahrefs, newsapi, brave, google-trends, x, linkedin, canva.
        name: String,
        /// Another endpoint than the vendor's (a proxy).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Read the API key from stdin (so it stays out of shell history).
        #[arg(long)]
        key_stdin: bool,
        /// Your plan's limits, where they differ from the catalog's.
        #[arg(long, value_name = "N")]
        requests_per_second: Option<u32>,
        #[arg(long, value_name = "N")]
        requests_per_day: Option<u32>,
        /// Your plan's price per call in dollars, e.g. 0.005.
        #[arg(long, value_name = "USD")]
        usd_per_call: Option<String>,
    },
    /// Send a tiny request (never answered from the cache) and report it.
    Test { name: String },
    /// Search the web or the news through a service; a fresh cached answer
    /// is reused at no cost.
    Search {
        name: String,
        /// What to search for.
        text: String,
        /// News rather than the web (NewsAPI always searches news).
        #[arg(long)]
        news: bool,
        /// How many results to ask for.
        #[arg(long, value_name = "N")]
        count: Option<u8>,
        /// The workspace whose budget pays.
        #[arg(long, value_name = "ID")]
        workspace: Option<domain::WorkspaceId>,
    },
    /// Sign in to a service that uses OAuth (x, linkedin, canva) with the
    /// app you registered with it: open the address printed in your
    /// browser and approve; the tokens go to the OS keyring and are
    /// refreshed before they expire. LinkedIn and Canva need the app's
    /// client secret (--client-secret-stdin).
    Auth {
        name: String,
        /// The client id of your app.
        #[arg(long, value_name = "ID")]
        client_id: String,
        /// Read the app's client secret from stdin (services that require one).
        #[arg(long)]
        client_secret_stdin: bool,
        /// LinkedIn: the organisation (company page) to post as and
        /// measure, by its id; without it, the one page you administer.
        #[arg(long, value_name = "ID")]
        organization: Option<String>,
        /// The port of the redirect address registered with your app,
        /// http://127.0.0.1:PORT/callback (0: any free port).
        #[arg(long, default_value_t = 8757, value_name = "PORT")]
        redirect_port: u16,
        /// Seconds to wait for the browser.
        #[arg(long, default_value_t = 300, value_name = "SECS")]
        timeout: u64,
        /// Overrides of the service's endpoints (a proxy).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        #[arg(long, value_name = "URL")]
        authorize_url: Option<String>,
        #[arg(long, value_name = "URL")]
        token_url: Option<String>,
    },
    /// Change a signed-in service's options without signing in again:
    /// LinkedIn's page and the workspace whose brand it is, or the API
    /// version asked for.
    Set {
        name: String,
        /// LinkedIn: the page to post as and measure, by its id (`auto`:
        /// the only page you administer).
        #[arg(long, value_name = "ID")]
        organization: Option<String>,
        /// LinkedIn: the workspace whose brand the page is (set on first
        /// use while there is one workspace).
        #[arg(long, value_name = "ID")]
        workspace: Option<domain::WorkspaceId>,
        /// The API version asked for (LinkedIn: YYYYMM; `default`: the
        /// catalog's).
        #[arg(long, value_name = "VERSION")]
        api_version: Option<String>,
    },
    /// Remove a service's settings and its key (or its tokens).
    Remove { name: String },
}

fn results_text(results: &SearchResults, text: &mut String) {
    let how =
        if results.cached { "from the cache, no call sent".to_owned() } else { format!("{} ms, {}", results.latency_ms, format_usd(results.cost_micro_usd)) };
    let total = results.total.map(|t| format!(", {t} matches in all")).unwrap_or_default();
    let n = results.hits.len();
    let plural = if n == 1 { "" } else { "s" };
    text.push_str(&format!("{} {}: {n} result{plural}{total} ({how})\n", results.service, results.endpoint));
    for hit in &results.hits {
        let source = hit.source.as_deref().unwrap_or("-");
        let published = hit.published.as_deref().unwrap_or("");
        text.push_str(&format!("  {} [{source}] {published}\n    {}\n", hit.title, hit.url));
    }
}

pub(crate) async fn run_connectors(core: &Core, command: ConnectorsCommand, out: &mut Output) -> Result<(), CoreError> {
    match command {
        ConnectorsCommand::List => {
            let list = core.connectors().await?;
            out.document(&list, |text| {
                for c in &list {
                    let state = match (c.built, c.configured, c.has_key) {
                        (false, _, _) => format!("not available: {}", c.note.as_deref().unwrap_or("")),
                        (true, false, _) => "not configured".to_owned(),
                        (true, true, false) => "configured, no key".to_owned(),
                        (true, true, true) => "key in the OS keyring".to_owned(),
                    };
                    text.push_str(&format!("{:<14} {state}\n", c.name));
                    if c.built {
                        let left = c.left_today.map(|left| format!(", {left} left today")).unwrap_or_default();
                        let last = c.last_outcome.as_deref().map(|o| format!(", last call: {o}")).unwrap_or_default();
                        text.push_str(&format!(
                            "               {} · {}/s · {} per {} · {} calls today{left}{last}\n",
                            c.base_url, c.requests_per_second, c.usd_per_call, c.price_per, c.calls_today
                        ));
                    }
                }
            });
        }
        ConnectorsCommand::Add { name, base_url, key_stdin, requests_per_second, requests_per_day, usd_per_call } => {
            let key = if key_stdin { Some(read_key()?) } else { None };
            let added = core.add_connector(NewConnector { name, base_url, requests_per_second, requests_per_day, usd_per_call }, key)?;
            out.document(&added, |text| {
                let key = if added.key_ref.is_some() { "key in the OS keyring" } else { "no key yet: add one with --key-stdin" };
                let url = added.base_url.as_deref().map(|url| format!(" at {url}")).unwrap_or_default();
                text.push_str(&format!("connector {}{url} ({key})\n", added.name));
            });
        }
        ConnectorsCommand::Test { name } => {
            let results = core.test_connector(&name).await?;
            out.document(&results, |text| {
                text.push_str(&format!("{name} works: "));
                results_text(&results, text);
            });
        }
        ConnectorsCommand::Search { name, text, news, count, workspace } => {
            let results = core.connector_search(&name, &ConnectorSearch { text, news, count, workspace }).await?;
            out.document(&results, |text| results_text(&results, text));
        }
        ConnectorsCommand::Auth { name, client_id, client_secret_stdin, organization, redirect_port, timeout, base_url, authorize_url, token_url } => {
            let client_secret = if client_secret_stdin { Some(read_key()?) } else { None };
            let timeout_after = std::time::Duration::from_secs(timeout);
            let request = SignIn { name, client_id, client_secret, redirect_port, base_url, authorize_url, token_url, timeout: timeout_after, organization };
            let signed = core
                .sign_in(request, |url, redirect| {
                    out.progress(&format!("open this address in your browser and approve: {url}"));
                    out.progress(&format!("waiting for the redirect to {redirect} (up to {timeout} s)"));
                })
                .await?;
            out.document(&signed, |text| text.push_str(&format!("signed in to {}; the tokens are in the OS keyring\n", signed.name)));
        }
        ConnectorsCommand::Set { name, organization, workspace, api_version } => {
            let changed = core.set_connector_options(&name, ConnectorOptions { organization, workspace, api_version }).await?;
            out.document(&changed, |text| {
                text.push_str(&format!("changed connector {}", changed.name));
                if let Some(page) = &changed.organization {
                    text.push_str(&format!("; page {page}"));
                }
                if let Some(workspace) = &changed.workspace {
                    text.push_str(&format!(", for workspace {workspace}"));
                }
                if let Some(version) = &changed.api_version {
                    text.push_str(&format!("; API version {version}"));
                }
                text.push('\n');
            });
        }
        ConnectorsCommand::Remove { name } => {
            let removed = core.remove_connector(&name)?;
            out.document(&removed, |text| text.push_str(&format!("removed connector {} and its key\n", removed.name)));
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub(crate) enum SignalsCommand {
    /// The workspace's series: points, days covered, latest value.
    List {
        #[arg(long, value_name = "ID")]
        workspace: domain::WorkspaceId,
    },
    /// A series' points, forecast with its interval, change points and
    /// anomalies.
    Show {
        #[arg(long, value_name = "ID")]
        workspace: domain::WorkspaceId,
        /// The series, as `signals list` names it.
        series: String,
        /// Days to forecast (1-365).
        #[arg(long, default_value_t = rf_core::signals::DEFAULT_HORIZON, value_name = "DAYS")]
        horizon: usize,
        /// The interval's probability, e.g. 0.8 or 0.95.
        #[arg(long, default_value_t = rf_core::signals::DEFAULT_LEVEL, value_name = "P")]
        level: f64,
    },
    /// Ask the configured news connectors about the company and each
    /// competitor now, and record today's values.
    Fetch {
        #[arg(long, value_name = "ID")]
        workspace: domain::WorkspaceId,
    },
}

pub(crate) async fn run_signals(core: &Core, command: SignalsCommand, out: &mut Output) -> Result<(), CoreError> {
    match command {
        SignalsCommand::List { workspace } => {
            let list = core.signals(workspace).await?;
            out.document(&list, |text| {
                if list.is_empty() {
                    text.push_str("no signals yet: configure a connector (`raptorflow connectors add newsapi --key-stdin`), then `raptorflow signals fetch`\n");
                }
                for s in &list {
                    text.push_str(&format!("{:<48} {:>4} days {} to {}, latest {:.1}\n", s.series, s.points, s.first_day, s.last_day, s.last_value));
                }
            });
        }
        SignalsCommand::Show { workspace, series, horizon, level } => {
            let view = core.signal(workspace, &series, horizon, level).await?;
            out.document(&view, |text| {
                for point in &view.points {
                    text.push_str(&format!("{} {:>10.1}\n", point.date(), point.value));
                }
                if let Some(forecast) = &view.analysis.forecast {
                    text.push_str(&format!("forecast ({}, {:.0} % interval):\n", forecast.model, forecast.level * 100.0));
                    for (i, day) in forecast.days.iter().enumerate() {
                        text.push_str(&format!("{day} {:>10.1}   [{:.1}, {:.1}]\n", forecast.point[i], forecast.lower[i], forecast.upper[i]));
                    }
                }
                for line in &view.summary {
                    text.push_str(&format!("· {line}\n"));
                }
            });
        }
        SignalsCommand::Fetch { workspace } => {
            let sweep = core.fetch_signals(workspace).await?;
            out.document(&sweep, |text| {
                text.push_str(&format!(
                    "recorded {} values for {}: {} calls sent, {} answered from the cache, {}\n",
                    sweep.recorded.len(),
                    sweep.day,
                    sweep.calls_sent,
                    sweep.cache_hits,
                    format_usd(sweep.cost_micro_usd)
                ));
                for recorded in &sweep.recorded {
                    text.push_str(&format!("  {:<48} {:>8.1}{}\n", recorded.series, recorded.value, if recorded.cached { " (cached)" } else { "" }));
                }
                for problem in &sweep.problems {
                    text.push_str(&format!("  not fetched: {problem}\n"));
                }
            });
        }
    }
    Ok(())
}
