//! The executor: one agent step. It fetches what the agent's allow-list
//! names, renders the prompt, calls the model against the output schema,
//! checks the answer with a JSON Schema validator and asks again (a bounded
//! number of times) when it does not match.

use std::{
    fmt,
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use rf_ai::{ChatMessage, ChatRequest, selector::Tier};
use rf_domain::{AgentId, RunId, UserId, WorkspaceId};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{
    events::RunEvent,
    render::{self, Citation, StepData},
    spec::{AgentSpec, Roster, Tool},
    store::StepResult,
};

/// A model call the runtime asks for.
#[derive(Debug, Clone)]
pub struct ModelRequest {
    pub agent: AgentId,
    pub run: RunId,
    pub workspace: Option<WorkspaceId>,
    pub user: UserId,
    pub tier: Tier,
    pub request: ChatRequest,
    /// Whether an identical earlier call may answer from the response
    /// cache (runs: yes, so a resumed step costs nothing twice; `agents
    /// eval`: no, it measures the model).
    pub use_cache: bool,
}

/// A model's answer and what it cost.
#[derive(Debug, Clone, Default)]
pub struct ModelAnswer {
    pub text: String,
    pub cancelled: bool,
    pub provider: String,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micro_usd: u64,
    /// The call's ledger row.
    pub ledger_id: Option<i64>,
}

/// Why a port call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortError {
    pub message: String,
    /// Trying again cannot help (a budget spent, a model not installed):
    /// the step goes to the dead-letter list at once.
    pub permanent: bool,
    /// The answer ran out of tokens before its JSON was complete: asking
    /// again with a larger allowance can help.
    pub truncated: bool,
}

impl PortError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: false, truncated: false }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: true, truncated: false }
    }

    /// An answer cut at its token limit.
    pub fn truncated(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: false, truncated: true }
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What the runtime needs from the engine: models and the tools. rf-core
/// implements it over `Core`; orchestration tests use a scripted double.
pub trait Ports: Send + Sync + fmt::Debug {
    /// One model call (one ledger row), streaming its text to `on_text`.
    fn generate<'a>(
        &'a self,
        request: ModelRequest,
        on_text: &'a mut (dyn FnMut(&str) + Send),
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<ModelAnswer, PortError>>;

    /// The most this call could cost, in micro-dollars (0 on a local model).
    fn max_cost<'a>(&'a self, request: &'a ModelRequest) -> BoxFuture<'a, Result<u64, PortError>>;

    /// Passages of the workspace's Codex for `query`.
    fn codex_search<'a>(&'a self, workspace: Option<WorkspaceId>, query: &'a str, k: usize) -> BoxFuture<'a, Result<Vec<Citation>, PortError>>;

    /// The brand codex (and campaign) as data for a prompt.
    fn workspace_read(&self, workspace: Option<WorkspaceId>) -> BoxFuture<'_, Result<Value, PortError>>;

    /// The deterministic Guardian's findings on an asset's content.
    fn guardian_check<'a>(&'a self, workspace: Option<WorkspaceId>, asset: &'a Value) -> BoxFuture<'a, Result<Value, PortError>>;

    /// Calls `tool` of the user's MCP server `server` with `arguments`.
    fn mcp_call<'a>(&'a self, server: &'a str, tool: &'a str, arguments: serde_json::Map<String, Value>) -> BoxFuture<'a, Result<McpAnswer, PortError>> {
        let _ = (tool, arguments);
        Box::pin(async move { Err(PortError::permanent(format!("there is no MCP server {server:?} here"))) })
    }
}

/// What an MCP tool answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpAnswer {
    /// Its text content, joined.
    pub text: String,
    /// The tool said the call failed.
    pub is_error: bool,
}

/// Limits of one step.
#[derive(Debug, Clone, Copy)]
pub struct ExecLimits {
    /// How many times an answer that does not match the schema is sent back.
    pub repair_rounds: u32,
    /// Codex passages per search.
    pub passages: usize,
    pub timeout: Duration,
    /// Sampling temperature (0: greedy).
    pub temperature: f64,
}

impl Default for ExecLimits {
    fn default() -> Self {
        Self { repair_rounds: 2, passages: 4, timeout: Duration::from_secs(600), temperature: 0.0 }
    }
}

/// Who a step runs for.
#[derive(Debug, Clone)]
pub struct StepContext {
    pub run: RunId,
    pub step: u32,
    pub workspace: Option<WorkspaceId>,
    pub user: UserId,
}

/// Why a step failed, and what its calls cost before it did.
#[derive(Debug, Clone)]
pub struct StepFailure {
    pub message: String,
    pub permanent: bool,
    pub cancelled: bool,
    pub spent: StepResult,
}

/// Everything one executor run needs.
pub(crate) struct Execution<'a> {
    pub roster: &'a Roster,
    pub ports: &'a dyn Ports,
    pub spec: &'a AgentSpec,
    pub input: &'a Value,
    pub data: StepData,
    pub ctx: &'a StepContext,
    pub limits: ExecLimits,
    pub emit: &'a (dyn Fn(RunEvent) + Send + Sync),
    pub cancel: &'a CancellationToken,
    /// The data already holds what the tools gave (asking a Lord again).
    pub tools_done: bool,
    /// Run on this tier instead of the agent's (evaluations on the local model).
    pub tier: Option<Tier>,
    /// See [`ModelRequest::use_cache`].
    pub use_cache: bool,
}

impl Execution<'_> {
    /// The model request of this step, before any repair.
    pub(crate) fn request(&self, data: &StepData) -> Result<ModelRequest, String> {
        let body = self.roster.templates().render_body(self.spec, self.input)?;
        let roster: Vec<(String, String)> = if self.spec.is_lord() && self.spec.delegates() && !data.no_delegation {
            self.roster.commanded_by(self.spec).map(|a| (a.id.to_string(), a.name.clone())).collect()
        } else {
            Vec::new()
        };
        let mut request = ChatRequest::user("");
        request.messages = render::messages(self.spec, &body, data, &roster);
        request.max_tokens = self.roster.token_budget(self.spec);
        request.temperature = self.limits.temperature;
        let mut schema = self.roster.generation_schema(self.spec);
        if data.no_delegation
            && let Some(delegations) = schema.pointer_mut("/properties/delegations").and_then(Value::as_object_mut)
        {
            delegations.remove("minItems");
            delegations.insert("maxItems".into(), Value::from(0));
        }
        narrow_citations(&mut schema, &citation_choices(self.input, data));
        narrow_channels(&mut schema, self.input);
        request.schema = Some(schema);
        Ok(ModelRequest {
            agent: self.spec.id.clone(),
            run: self.ctx.run,
            workspace: self.ctx.workspace,
            user: self.ctx.user.clone(),
            tier: self.tier.unwrap_or(self.spec.tier),
            request,
            use_cache: self.use_cache,
        })
    }

    /// Runs the tools of the allow-list into the step's data.
    async fn fetch(&self, data: &mut StepData, tool_time: &mut Duration) -> Result<(), PortError> {
        let step = self.ctx.step;
        for tool in &self.spec.tools {
            let started = Instant::now();
            match tool {
                Tool::WorkspaceRead => {
                    data.workspace = Some(self.ports.workspace_read(self.ctx.workspace).await?);
                    (self.emit)(RunEvent::ToolUsed { step, tool: tool.to_string(), detail: "brand codex".into() });
                }
                Tool::CodexSearch => {
                    let query = self.roster.templates().render_query(self.spec, self.input).map_err(PortError::permanent)?;
                    let passages = self.ports.codex_search(self.ctx.workspace, &query, self.limits.passages).await?;
                    (self.emit)(RunEvent::ToolUsed { step, tool: tool.to_string(), detail: format!("{} passages for {query:?}", passages.len()) });
                    data.passages = passages;
                }
                Tool::GuardianCheck => {
                    let asset = self.input.get("asset").cloned().unwrap_or(Value::Null);
                    let findings = self.ports.guardian_check(self.ctx.workspace, &asset).await?;
                    let count = findings.get("findings").and_then(Value::as_array).map_or(0, Vec::len);
                    (self.emit)(RunEvent::ToolUsed { step, tool: tool.to_string(), detail: format!("{count} findings") });
                    data.findings = Some(findings);
                }
            }
            *tool_time += started.elapsed();
        }
        for tool in &self.spec.mcp_tools {
            let started = Instant::now();
            let name = tool.name();
            let arguments = self.roster.templates().render_mcp_arguments(self.spec, tool, self.input).map_err(PortError::permanent)?;
            let shown = Value::Object(arguments.clone()).to_string();
            let answer = self.ports.mcp_call(&tool.server, &tool.tool, arguments).await?;
            let chars = answer.text.chars().count();
            let outcome = if answer.is_error { "an error" } else { "an answer" };
            (self.emit)(RunEvent::ToolUsed { step, tool: name.clone(), detail: format!("arguments {shown}; {outcome} of {chars} characters") });
            *tool_time += started.elapsed();
            if answer.is_error {
                return Err(PortError::retry(format!("{name} answered with an error: {}", crate::mcp_tools::bounded(&answer.text))));
            }
            data.tool_results.push((name, answer.text));
        }
        Ok(())
    }

    /// Runs the step: tools, then the model with bounded repair. Also
    /// returns the data the tools gave, for asking again.
    pub(crate) async fn run(mut self) -> (Result<StepResult, StepFailure>, StepData) {
        let mut data = std::mem::take(&mut self.data);
        let result = self.run_with(&mut data).await;
        (result, data)
    }

    async fn run_with(&self, data: &mut StepData) -> Result<StepResult, StepFailure> {
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let mut spent = StepResult::default();
        let fail = |message: String, permanent: bool, cancelled: bool, spent: &StepResult| StepFailure { message, permanent, cancelled, spent: spent.clone() };
        if !self.tools_done
            && let Err(err) = self.fetch(data, &mut waited).await
        {
            return Err(fail(format!("a tool failed: {err}"), err.permanent, false, &spent));
        }
        let mut request = self.request(data).map_err(|err| fail(format!("the prompt does not render: {err}"), true, false, &spent))?;
        let step = self.ctx.step;
        let mut round = 0;
        loop {
            let mut on_text = |piece: &str| (self.emit)(RunEvent::Text { step, text: piece.to_owned() });
            let call_started = Instant::now();
            let answer = self.ports.generate(request.clone(), &mut on_text, self.cancel).await;
            waited += call_started.elapsed();
            let answer = match answer {
                Ok(answer) => answer,
                // Out of tokens: a repair round with twice the allowance.
                // Out of tokens: a repair round with twice the allowance and
                // a schema that allows a shorter answer. The allowance alone
                // may not grow: a local model's context caps it.
                Err(err) if err.truncated && round < self.limits.repair_rounds => {
                    // The cut call counts: the answer was not valid on the first try.
                    spent.calls += 1;
                    round += 1;
                    request.request.max_tokens = (request.request.max_tokens * 2).min(crate::spec::MAX_TOKENS);
                    let shorter = request.request.schema.as_mut().is_some_and(shorten_answer);
                    let how = if shorter { " for a shorter answer (lists and long texts halved)" } else { "" };
                    (self.emit)(RunEvent::Repair { step, problems: vec![format!("{err}; asking again with {} tokens{how}", request.request.max_tokens)] });
                    continue;
                }
                Err(err) => return Err(fail(format!("the model call failed: {err}"), err.permanent, false, &spent)),
            };
            spent.calls += 1;
            spent.input_tokens += answer.input_tokens;
            spent.output_tokens += answer.output_tokens;
            spent.cost_micro_usd += answer.cost_micro_usd;
            spent.provider = Some(answer.provider.clone());
            spent.model = Some(answer.model.clone());
            spent.ledger_ids.extend(answer.ledger_id);
            if answer.cancelled || self.cancel.is_cancelled() {
                return Err(fail("cancelled".into(), false, true, &spent));
            }
            let problems = match serde_json::from_str::<Value>(&answer.text) {
                Ok(value) => {
                    let problems = self.roster.validate_output(&self.spec.id, &value);
                    if problems.is_empty() {
                        spent.output = value;
                        spent.overhead_us = u64::try_from(started.elapsed().saturating_sub(waited).as_micros()).unwrap_or(u64::MAX);
                        return Ok(spent);
                    }
                    problems
                }
                Err(err) => vec![format!("the answer is not JSON: {err}")],
            };
            round += 1;
            if round > self.limits.repair_rounds {
                return Err(fail(format!("the answer did not match the schema after {} tries: {}", round, problems.join("; ")), false, false, &spent));
            }
            (self.emit)(RunEvent::Repair { step, problems: problems.clone() });
            request.request.messages.push(ChatMessage::new("assistant", &answer.text));
            request.request.messages.push(ChatMessage::new(
                "user",
                &format!("That answer does not match the required JSON: {}. Answer again with the corrected JSON object only.", problems.join("; ")),
            ));
        }
    }
}

/// Halves, in a generation schema, every list's `maxItems` (not below its
/// `minItems`, nor below 1) and every text's `maxLength` above 80 (not below
/// 80 nor its `minLength`): an answer valid against the result is valid
/// against the original, and its longest form is about half as long.
/// Whether anything changed.
pub fn shorten_answer(schema: &mut Value) -> bool {
    let mut changed = false;
    if let Value::Object(map) = schema {
        let floor = |key: &str, map: &serde_json::Map<String, Value>| map.get(key).and_then(Value::as_u64).unwrap_or(0);
        let kind = map.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
        if kind == "array"
            && let Some(max) = map.get("maxItems").and_then(Value::as_u64)
        {
            let halved = max.div_ceil(2).max(floor("minItems", map)).max(1).min(max);
            if halved < max {
                map.insert("maxItems".into(), Value::from(halved));
                changed = true;
            }
        }
        if kind == "string"
            && let Some(max) = map.get("maxLength").and_then(Value::as_u64)
        {
            let halved = (max / 2).max(80).max(floor("minLength", map)).min(max);
            if halved < max {
                map.insert("maxLength".into(), Value::from(halved));
                changed = true;
            }
        }
        for value in map.values_mut() {
            changed |= shorten_answer(value);
        }
    } else if let Value::Array(items) = schema {
        for item in items {
            changed |= shorten_answer(item);
        }
    }
    changed
}

/// What a step may cite: the intake fields of its input's `facts`
/// (`intake:FIELD`) and the Codex passages it was given (`[n] source`),
/// each at most 40 characters.
pub fn citation_choices(input: &Value, data: &StepData) -> Vec<String> {
    let mut choices: Vec<String> = input
        .get("facts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|fact| fact.get("field").and_then(Value::as_str))
        .map(|field| format!("intake:{field}"))
        .filter(|c| c.chars().count() <= 40)
        .collect();
    for passage in &data.passages {
        let mut choice = format!("[{}] {}", passage.n, passage.source);
        if choice.chars().count() > 40 {
            choice = choice.chars().take(39).collect::<String>() + "…";
        }
        choices.push(choice);
    }
    choices.dedup();
    choices
}

/// What a citation made from [`citation_choices`] names, as stored with
/// the claim: an intake field of `facts` (`intake:FIELD`) or a numbered
/// Codex passage; `None` for anything else.
pub fn cited_source(cite: &str, facts: &[String]) -> Option<String> {
    let cite = cite.trim();
    if let Some(field) = cite.strip_prefix("intake:") {
        return facts.iter().any(|f| f == field.trim()).then(|| format!("intake:{}", field.trim()));
    }
    // "[n]" or "[n] source", as the step's passages were numbered.
    let (number, source) = cite.strip_prefix('[')?.split_once(']')?;
    let number = number.trim().parse::<u32>().ok().filter(|n| *n >= 1)?;
    let source = source.trim();
    Some(if source.is_empty() { format!("codex passage [{number}]") } else { format!("codex: {source} [{number}]") })
}

/// Narrows every `cites` list of string items in `schema` to one or more
/// of `choices` (to none when there is nothing to cite), so that a
/// constrained model cites, and cites only what it was given.
pub fn narrow_citations(schema: &mut Value, choices: &[String]) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get_mut("properties")
                && let Some(cites) = properties.get_mut("cites")
                && cites.get("type").and_then(Value::as_str) == Some("array")
                && cites.pointer("/items/type").and_then(Value::as_str) == Some("string")
            {
                if choices.is_empty() {
                    cites["maxItems"] = Value::from(0);
                    if let Some(cites) = cites.as_object_mut() {
                        cites.remove("minItems");
                        if let Some(Value::Object(items)) = cites.get_mut("items") {
                            items.remove("enum");
                        }
                    }
                } else {
                    cites["items"] = serde_json::json!({"type": "string", "enum": choices});
                    cites["minItems"] = Value::from(1);
                }
            }
            for value in map.values_mut() {
                narrow_citations(value, choices);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| narrow_citations(item, choices)),
        _ => {}
    }
}

/// Narrows every `channel` enum of an answer's schema to the channels the
/// step's input names (`input.channels`), so a plan for email and LinkedIn
/// cannot come back with moves on X. An input naming none of the enum's
/// channels leaves it as it is.
pub fn narrow_channels(schema: &mut Value, input: &Value) {
    let Some(wanted) = input.get("channels").and_then(Value::as_array) else { return };
    let wanted: Vec<&str> = wanted.iter().filter_map(Value::as_str).collect();
    fn walk(schema: &mut Value, wanted: &[&str]) {
        match schema {
            Value::Object(map) => {
                if let Some(Value::Object(properties)) = map.get_mut("properties")
                    && let Some(Value::Array(choices)) = properties.get_mut("channel").and_then(|c| c.get_mut("enum"))
                {
                    let kept: Vec<Value> = choices.iter().filter(|c| c.as_str().is_some_and(|c| wanted.contains(&c))).cloned().collect();
                    if !kept.is_empty() {
                        *choices = kept;
                    }
                }
                map.values_mut().for_each(|value| walk(value, wanted));
            }
            Value::Array(items) => items.iter_mut().for_each(|item| walk(item, wanted)),
            _ => {}
        }
    }
    walk(schema, &wanted);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shorter_answer_halves_lists_and_long_texts_within_their_minimums() {
        let mut schema = serde_json::json!({"type": "object", "properties": {
            "fixes": {"type": "array", "maxItems": 4, "items": {"type": "object", "properties": {
                "quote": {"type": "string", "maxLength": 120},
                "tag": {"type": "string", "maxLength": 40}
            }}},
            "claims": {"type": "array", "minItems": 3, "maxItems": 4, "items": {"type": "string", "minLength": 100, "maxLength": 300}},
            "one": {"type": "array", "maxItems": 1, "items": {"type": "integer"}}
        }});
        let original = schema.clone();
        assert!(shorten_answer(&mut schema));
        assert_eq!(schema.pointer("/properties/fixes/maxItems"), Some(&Value::from(2)));
        assert_eq!(schema.pointer("/properties/fixes/items/properties/quote/maxLength"), Some(&Value::from(80)));
        assert_eq!(schema.pointer("/properties/fixes/items/properties/tag/maxLength"), Some(&Value::from(40)), "short texts stay");
        assert_eq!(schema.pointer("/properties/claims/maxItems"), Some(&Value::from(3)), "not below minItems");
        assert_eq!(schema.pointer("/properties/claims/items/maxLength"), Some(&Value::from(150)));
        assert_eq!(schema.pointer("/properties/one/maxItems"), Some(&Value::from(1)));
        // What the shorter schema accepts, the original does too.
        let answer =
            serde_json::json!({"fixes": [{"quote": "q".repeat(80), "tag": "t"}], "claims": ["c".repeat(150), "c".repeat(100), "c".repeat(120)], "one": [1]});
        assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&answer));
        assert!(jsonschema::validator_for(&original).unwrap().is_valid(&answer));
        // Halving again goes on to the floors, then stops.
        while shorten_answer(&mut schema) {}
        assert_eq!(schema.pointer("/properties/fixes/maxItems"), Some(&Value::from(1)));
        assert_eq!(schema.pointer("/properties/claims/items/maxLength"), Some(&Value::from(100)));
    }

    #[test]
    fn citations_are_narrowed_to_what_the_step_was_given() {
        let input = serde_json::json!({"facts": [{"field": "company", "text": "A"}, {"field": "products[0]", "text": "B"}]});
        let data = StepData {
            passages: vec![Citation { n: 1, source: "pricing.md".into(), text: "…".into() }, Citation { n: 2, source: "x".repeat(60), text: "…".into() }],
            ..StepData::default()
        };
        let choices = citation_choices(&input, &data);
        assert_eq!(choices[..3], ["intake:company", "intake:products[0]", "[1] pricing.md"]);
        assert_eq!(choices[3].chars().count(), 40);
        let mut schema = serde_json::json!({"type": "object", "properties": {
            "offer": {"type": "object", "properties": {"text": {"type": "string"}, "cites": {"type": "array", "items": {"type": "string", "maxLength": 40}}}},
            "audiences": {"type": "array", "items": {"type": "object", "properties": {"cites": {"type": "array", "items": {"type": "string"}}}}}
        }});
        narrow_citations(&mut schema, &choices);
        assert_eq!(schema.pointer("/properties/offer/properties/cites/items/enum").unwrap().as_array().unwrap().len(), 4);
        assert_eq!(schema.pointer("/properties/offer/properties/cites/minItems"), Some(&Value::from(1)));
        assert!(schema.pointer("/properties/audiences/items/properties/cites/items/enum").is_some(), "inside arrays too");
        narrow_citations(&mut schema, &[]);
        assert_eq!(schema.pointer("/properties/offer/properties/cites/maxItems"), Some(&Value::from(0)));
    }

    #[test]
    fn channel_enums_are_narrowed_to_the_channels_asked_for() {
        let schema = serde_json::json!({"type": "object", "properties": {"moves": {"type": "array", "items": {"type": "object", "properties": {
            "channel": {"type": "string", "enum": ["google_ads", "meta_ads", "linkedin", "email"]}
        }}}}});
        let mut narrowed = schema.clone();
        narrow_channels(&mut narrowed, &serde_json::json!({"channels": ["email", "linkedin", "tiktok"]}));
        assert_eq!(narrowed.pointer("/properties/moves/items/properties/channel/enum").unwrap(), &serde_json::json!(["linkedin", "email"]));
        let mut untouched = schema.clone();
        narrow_channels(&mut untouched, &serde_json::json!({"channels": ["tiktok"]}));
        narrow_channels(&mut untouched, &serde_json::json!({"goal": "x"}));
        assert_eq!(untouched, schema, "no channel in common, or none asked for: the schema stands");
    }
}
