//! One model call as the swarm makes it: answered from the response cache
//! when an identical request was answered before, otherwise checked against
//! the budgets (reserve the most it could cost), sent, and written to the
//! ledger with its tokens, latency and cost — whether it succeeded or not.

use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use rf_ai::{AiError, ChatRequest, Completion, LanguageModel, ModelId, StopReason, Usage};

use crate::{
    ledger::{CallContext, CallRecord, Ledger, now_ms},
    pricing::Price,
};

/// How long a cached answer is reused by default.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Per-call switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOptions {
    /// Look the request up in the response cache, and store the answer.
    pub use_cache: bool,
    pub cache_ttl: Duration,
}

impl Default for CallOptions {
    fn default() -> Self {
        Self { use_cache: true, cache_ttl: DEFAULT_CACHE_TTL }
    }
}

/// What one call asks, and for whom.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub context: &'a CallContext,
    pub request: &'a ChatRequest,
    pub options: CallOptions,
}

/// A call's answer and what the ledger recorded for it.
#[derive(Debug, Clone, Serialize)]
pub struct MeteredCompletion {
    pub completion: Completion,
    pub record: CallRecord,
    pub ledger_id: i64,
}

/// The cache key of a request to a model: sha256 over the provider, the
/// model and the request (messages, sampling, stop strings, schema).
pub fn request_key(provider: &str, model: &str, request: &ChatRequest) -> [u8; 32] {
    #[derive(Serialize)]
    struct Key<'a> {
        provider: &'a str,
        model: &'a str,
        request: &'a ChatRequest,
    }
    let text = serde_json::to_vec(&Key { provider, model, request }).unwrap_or_default();
    Sha256::digest(&text).into()
}

/// The most `request` can cost at `price`: its input bound plus its full
/// `max_tokens` of output. What a call reserves against the budgets, and
/// what the selector compares with the budget left.
pub fn max_cost_micro_usd(price: &Price, request: &ChatRequest) -> u64 {
    price.cost_micro_usd(&Usage { input_tokens: request.input_token_bound(), output_tokens: request.max_tokens as u64, ..Usage::default() })
}

/// Calls `model` for `call.context`, priced at `price`.
pub async fn call(
    ledger: &Ledger,
    model: &dyn LanguageModel,
    price: &Price,
    call: Call<'_>,
    on_text: &mut (dyn FnMut(&str) + Send),
    cancel: &CancellationToken,
) -> Result<MeteredCompletion, AiError> {
    let Call { context, request, options } = call;
    let model_ref = model.model_ref();
    let started = Instant::now();
    let at_ms = now_ms();
    let key = request_key(model_ref.provider.as_str(), model_ref.model.as_str(), request);
    let record = |usage: Usage, cost: u64, cache_hit: bool, outcome: &str, model: &ModelId| CallRecord {
        at_ms,
        context: context.clone(),
        provider: model_ref.provider.clone(),
        model: model.clone(),
        usage,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        cost_micro_usd: cost,
        cache_hit,
        outcome: outcome.to_owned(),
    };
    if options.use_cache
        && let Some(completion) = ledger.cached(&key).await?
    {
        on_text(&completion.text);
        let record = record(completion.usage, 0, true, "ok", &model_ref.model);
        let ledger_id = ledger.record(&record).await?;
        return Ok(MeteredCompletion { completion, record, ledger_id });
    }
    let most = max_cost_micro_usd(price, request);
    let reservation = ledger.reserve(context, most).await?.map_err(AiError::Budget)?;
    let reserved = reservation.amount_micro_usd;
    let result = model.complete(request, on_text, cancel).await;
    // An estimate is never allowed past what was reserved; a provider's own
    // count is recorded as it is.
    let cost_of = |usage: &Usage| {
        let cost = price.cost_micro_usd(usage);
        if usage.estimated { cost.min(reserved) } else { cost }
    };
    match result {
        Ok(completion) => {
            let outcome = if completion.stop_reason == StopReason::Cancelled { "cancelled" } else { "ok" };
            let record = record(completion.usage, cost_of(&completion.usage), false, outcome, &model_ref.model);
            if record.cost_micro_usd > reserved && reserved > 0 {
                tracing::warn!(provider = %record.provider, cost = record.cost_micro_usd, reserved, "a call cost more than its reservation");
            }
            let ledger_id = ledger.settle(reservation, &record).await?;
            if options.use_cache && completion.stop_reason != StopReason::Cancelled {
                ledger.cache(&key, model_ref.provider.as_str(), &completion, options.cache_ttl).await?;
            }
            Ok(MeteredCompletion { completion, record, ledger_id })
        }
        Err(err) => {
            let (usage, code) = match &err {
                AiError::Provider(provider_error) => (provider_error.billed_usage().unwrap_or_default(), provider_error.code()),
                _ => (Usage::default(), "error"),
            };
            let record = record(usage, cost_of(&usage), false, code, &model_ref.model);
            ledger.settle(reservation, &record).await?;
            Err(err)
        }
    }
}
