//! `raptorflow providers ...` (cloud models and their keys), `raptorflow
//! cost ...` (the ledger and budgets), and the metered `raptorflow ask`.
//! These use the data directory's settings and ledger, not its workspaces.

use std::{
    io::{Read, Write},
    path::PathBuf,
};

use clap::Subcommand;
use rf_core::{
    Core, CoreError,
    ai::{
        self, AskProgress, BudgetScope, CallContext, CancellationToken, ChatRequest, ModelCall, PrivacyMode, ProviderKind, ReportFilter, Route, Tier,
        format_usd,
    },
    domain,
    providers::NewProvider,
};
use serde_json::json;

use crate::{models::AskArgs, output::Output};

#[derive(Debug, Subcommand)]
pub(crate) enum ProvidersCommand {
    /// Add a cloud model (or replace the one of the same name). The API key
    /// is read from stdin and kept in the OS keyring.
    Add {
        name: String,
        #[arg(long, value_name = "KIND")]
        kind: ProviderKind,
        /// e.g. https://api.openai.com/v1, https://api.anthropic.com,
        /// http://127.0.0.1:11434/v1 (Ollama).
        #[arg(long, value_name = "URL")]
        base_url: String,
        /// The model id as the provider names it.
        #[arg(long, value_name = "ID")]
        model: String,
        /// The steps it is meant for: fast, standard or premium.
        #[arg(long, default_value = "standard", value_name = "TIER")]
        tier: Tier,
        /// Read the API key from stdin (so it stays out of shell history).
        #[arg(long)]
        key_stdin: bool,
        /// Price per million input tokens in dollars, for models the
        /// bundled price table does not know.
        #[arg(long, value_name = "USD", requires = "output_usd_per_mtok")]
        input_usd_per_mtok: Option<String>,
        #[arg(long, value_name = "USD", requires = "input_usd_per_mtok")]
        output_usd_per_mtok: Option<String>,
        /// Seconds to wait for an answer (default 120).
        #[arg(long = "timeout", value_name = "SECS")]
        timeout_secs: Option<u64>,
        /// Tries per call, the first included (default 4).
        #[arg(long, value_name = "N")]
        max_attempts: Option<u32>,
        /// Ask for whole answers instead of streamed ones.
        #[arg(long)]
        no_stream: bool,
    },
    /// Replace a provider's API key (read from stdin).
    SetKey {
        name: String,
        #[arg(long, required = true)]
        key_stdin: bool,
    },
    /// List configured providers (never their keys).
    List,
    /// Send a tiny request to a provider and report what it answered.
    Test { name: ai::ProviderName },
    /// Remove a provider and its key.
    Remove { name: String },
    /// Set where models may run: offline-only, local-preferred, cloud-allowed.
    Privacy { mode: PrivacyMode },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CostCommand {
    /// Spending by agent, model and day.
    Report {
        #[arg(long, value_name = "ID")]
        workspace: Option<domain::WorkspaceId>,
        /// YYYY-MM (default: every month).
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<String>,
    },
    /// Show or set the monthly budget of a workspace or a user.
    Budget {
        #[arg(long, value_name = "ID", conflicts_with = "user_id", required_unless_present = "user_id")]
        workspace: Option<domain::WorkspaceId>,
        /// A user's own monthly budget, across workspaces.
        #[arg(long, value_name = "USER_ID")]
        user_id: Option<domain::UserId>,
        /// The new monthly limit in dollars, e.g. 25 or 7.50.
        #[arg(long, value_name = "USD")]
        monthly_usd: Option<String>,
    },
}

pub(crate) fn read_key() -> Result<ai::ApiKey, CoreError> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|source| CoreError::Io {
        action: "could not read the API key from",
        path: PathBuf::from("stdin"),
        source,
    })?;
    ai::ApiKey::new(&text)
        .ok_or_else(|| ai::AiError::InvalidInput("no API key on stdin: pipe it in, e.g. `printf %s \"$KEY\" | raptorflow providers add ...`".into()).into())
}

pub(crate) async fn run_providers(core: &Core, command: ProvidersCommand, out: &mut Output) -> Result<(), CoreError> {
    let user = core.user().id.clone();
    match command {
        ProvidersCommand::Add {
            name,
            kind,
            base_url,
            model,
            tier,
            key_stdin,
            input_usd_per_mtok,
            output_usd_per_mtok,
            timeout_secs,
            max_attempts,
            no_stream,
        } => {
            let key = if key_stdin { Some(read_key()?) } else { None };
            let new = NewProvider {
                name,
                kind,
                base_url,
                model,
                tier,
                input_usd_per_mtok,
                output_usd_per_mtok,
                timeout_secs,
                max_attempts,
                stream: no_stream.then_some(false),
            };
            let provider = core.add_provider(new, key)?;
            out.document(&provider, |text| {
                let key = if provider.has_key() { "key in the OS keyring" } else { "no key" };
                text.push_str(&format!(
                    "provider {}: {} {} at {} ({} tier, {key})\n",
                    provider.name, provider.kind, provider.model, provider.base_url, provider.tier
                ));
            });
        }
        ProvidersCommand::SetKey { name, key_stdin: _ } => {
            let key = read_key()?;
            core.set_provider_key(&name, &key)?;
            out.document(&json!({ "name": name, "has_key": true }), |text| text.push_str(&format!("stored a new key for {name} in the OS keyring\n")));
        }
        ProvidersCommand::List => {
            let settings = core.settings()?;
            out.document(&json!({ "privacy": settings.privacy, "providers": settings.providers }), |text| {
                text.push_str(&format!("privacy mode: {}\n", settings.privacy));
                if settings.providers.is_empty() {
                    text.push_str(
                        "no cloud providers: add one with `raptorflow providers add NAME --kind openai-compatible --base-url URL --model ID --key-stdin`\n",
                    );
                }
                for p in &settings.providers {
                    let key = if p.has_key() { "key stored" } else { "no key" };
                    text.push_str(&format!("  {:<16} {:<18} {:<28} {:<9} {} ({key})\n", p.name, p.kind, p.model, p.tier, p.base_url));
                }
            });
        }
        ProvidersCommand::Test { name } => {
            let mut request = ChatRequest::user("Reply with the single word OK.");
            request.max_tokens = 16;
            request.temperature = 0.0;
            let call = ModelCall {
                request,
                route: Route::Provider(name.clone()),
                privacy: None,
                local_model: None,
                local_options: ai::LlmOptions::default(),
                context: CallContext::user(user.clone()),
                use_cache: false,
            };
            let outcome = core.ask(call, &mut |_| {}, &CancellationToken::new()).await?;
            let record = &outcome.metered.record;
            out.document(&outcome, |text| {
                text.push_str(&format!(
                    "{name} answered {:?} in {} ms: {} input and {} output tokens, {}\n",
                    outcome.metered.completion.text.trim(),
                    record.latency_ms,
                    record.usage.input_tokens,
                    record.usage.output_tokens,
                    format_usd(record.cost_micro_usd)
                ));
            });
        }
        ProvidersCommand::Remove { name } => {
            let removed = core.remove_provider(&name)?;
            out.document(&removed, |text| text.push_str(&format!("removed provider {name} and its key\n")));
        }
        ProvidersCommand::Privacy { mode } => {
            core.set_privacy(mode)?;
            out.document(&json!({ "privacy": mode }), |text| text.push_str(&format!("privacy mode: {mode}\n")));
        }
    }
    Ok(())
}

pub(crate) async fn run_cost(core: &Core, command: CostCommand, out: &mut Output) -> Result<(), CoreError> {
    match command {
        CostCommand::Report { workspace, month } => {
            if let Some(month) = &month
                && !ai::is_month(month)
            {
                return Err(ai::AiError::InvalidInput(format!("--month {month:?}: write it as YYYY-MM, e.g. 2026-11")).into());
            }
            let report = core.cost_report(&ReportFilter { workspace_id: workspace, month }).await?;
            out.document(&report, |text| write_report(text, &report));
        }
        CostCommand::Budget { workspace, user_id, monthly_usd } => {
            let scope = match (workspace, user_id) {
                (Some(workspace), _) => BudgetScope::Workspace(workspace),
                (None, Some(user)) => BudgetScope::User(user),
                (None, None) => unreachable!("clap requires --workspace or --user-id"),
            };
            let limit = match monthly_usd {
                Some(usd) => core.set_budget(&scope, &usd).await?,
                None => core.budget(&scope).await?,
            };
            out.document(&json!({ "scope": scope.to_string(), "monthly_limit_micro_usd": limit }), |text| {
                text.push_str(&format!("{scope}: {} per month\n", format_usd(limit)));
            });
        }
    }
    Ok(())
}

fn write_report(text: &mut String, report: &ai::CostReport) {
    let scope = report.workspace_id.map_or_else(|| "all workspaces".to_owned(), |w| format!("workspace {w}"));
    let month = report.month.as_deref().unwrap_or("all months");
    text.push_str(&format!(
        "{scope}, {month}: {} in {} calls ({} from cache), {} input and {} output tokens\n",
        format_usd(report.total.cost_micro_usd),
        report.total.calls,
        report.total.cache_hits,
        report.total.input_tokens,
        report.total.output_tokens
    ));
    for (title, lines) in [("by agent", &report.by_agent), ("by model", &report.by_model), ("by day", &report.by_day)] {
        text.push_str(&format!("{title}:\n"));
        for line in lines {
            text.push_str(&format!(
                "  {:<40} {:>12} {:>6} calls {:>9} in {:>9} out\n",
                line.key,
                format_usd(line.cost_micro_usd),
                line.calls,
                line.input_tokens,
                line.output_tokens
            ));
        }
    }
}

/// `raptorflow ask` through the model selector, the budgets, the cache and
/// the ledger; `--raw` continues text as it is on the local model.
pub(crate) async fn run_ask(core: &Core, args: AskArgs, out: &mut Output) -> Result<(), CoreError> {
    let user = core.user().id.clone();
    let (request, local_options, seed) = args.request()?;
    let route = match (&args.provider, args.tier) {
        (Some(provider), _) => Route::Provider(provider.clone()),
        (None, None) if args.is_raw() => Route::Provider(ai::ProviderName::local()),
        (None, tier) => Route::Tier(tier.unwrap_or(Tier::Standard)),
    };
    let call = ModelCall {
        request,
        route,
        privacy: args.privacy,
        local_model: args.model().cloned(),
        local_options,
        context: CallContext { workspace_id: args.workspace, user_id: user, agent_id: args.agent.clone(), run_id: args.run, caller: None },
        use_cache: !args.no_cache,
    };
    let cancel = crate::cancel_on_ctrl_c();
    let stream = !out.is_json();
    let mut print = |progress: AskProgress<'_>| match progress {
        AskProgress::Text(piece) if stream => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(piece.as_bytes());
            let _ = stdout.flush();
        }
        AskProgress::Queued { position } => {
            let _ = writeln!(std::io::stderr(), "[waiting for the local model: {position} calls ahead]");
        }
        AskProgress::Text(_) => {}
    };
    let outcome = core.ask(call, &mut print, &cancel).await?;
    let record = &outcome.metered.record;
    out.document(&json!({ "seed": seed, "outcome": outcome }), |text| {
        text.push('\n');
        match outcome.metered.completion.stop_reason {
            ai::StopReason::MaxTokens => text.push_str(&format!("[stopped at --max-tokens {}]\n", record.usage.output_tokens)),
            ai::StopReason::Cancelled => text.push_str("[cancelled]\n"),
            _ => {}
        }
        let cache = if record.cache_hit { ", from the cache" } else { "" };
        let _ = writeln!(std::io::stderr(), "[{} {}: {}{cache}; {}]", record.provider, record.model, format_usd(record.cost_micro_usd), outcome.choice);
    });
    Ok(())
}
