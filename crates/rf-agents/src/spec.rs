//! The roster: every agent as data, read from `prompts/` (see its README).
//!
//! Loading checks everything a run would otherwise trip over later: the
//! front matter, the ids and guilds of the plan, which Lord commands whom,
//! that every schema is a valid JSON Schema, that every template compiles
//! and renders with its sample input, and that no two agents share a body
//! or a schema.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
};

use rf_ai::selector::Tier;
use rf_domain::AgentId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::render;

/// Why the roster could not be loaded: the file and what is wrong in it.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("could not read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

fn invalid(path: &Path, message: impl Into<String>) -> SpecError {
    SpecError::Invalid { path: path.to_owned(), message: message.into() }
}

/// The council and the four guilds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Guild {
    Council,
    Research,
    Muse,
    Matrix,
    Guardian,
}

impl Guild {
    pub const ALL: [Guild; 5] = [Guild::Council, Guild::Research, Guild::Muse, Guild::Matrix, Guild::Guardian];

    pub fn as_str(self) -> &'static str {
        match self {
            Guild::Council => "council",
            Guild::Research => "research",
            Guild::Muse => "muse",
            Guild::Matrix => "matrix",
            Guild::Guardian => "guardian",
        }
    }

    /// The id prefix of the guild's agents and how many it has (the plan's).
    fn roster(self) -> (&'static str, u16) {
        match self {
            Guild::Council => ("LORD", 7),
            Guild::Research => ("RES", 20),
            Guild::Muse => ("MUSE", 30),
            Guild::Matrix => ("MTX", 20),
            Guild::Guardian => ("GRD", 10),
        }
    }
}

impl fmt::Display for Guild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Guild {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Guild::ALL.into_iter().find(|g| g.as_str() == s).ok_or_else(|| format!("unknown guild {s:?}: use council, research, muse, matrix or guardian"))
    }
}

/// What an agent may have the runtime fetch for it. Agents never call
/// tools themselves: the runtime runs the ones an agent's file allows
/// before the model sees anything, so no text the model reads can start
/// one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Tool {
    /// Passages of the workspace's Codex, with citations.
    #[serde(rename = "codex.search")]
    CodexSearch,
    /// The brand codex and the campaign.
    #[serde(rename = "workspace.read")]
    WorkspaceRead,
    /// The deterministic Guardian's findings on `input.asset`.
    #[serde(rename = "guardian.check")]
    GuardianCheck,
}

impl Tool {
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::CodexSearch => "codex.search",
            Tool::WorkspaceRead => "workspace.read",
            Tool::GuardianCheck => "guardian.check",
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The front matter as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    id: String,
    name: String,
    guild: String,
    specialisation: String,
    lord: Option<String>,
    #[serde(default)]
    commands: Vec<String>,
    tier: Tier,
    #[serde(default)]
    tools: Vec<String>,
    /// Arguments of the MCP tools in `tools`, as templates of the input.
    #[serde(default)]
    mcp_arguments: BTreeMap<String, BTreeMap<String, String>>,
    codex_query: Option<String>,
    output_schema: String,
    sample_input: String,
    max_tokens: usize,
}

/// One agent, loaded and checked.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AgentSpec {
    pub id: AgentId,
    pub name: String,
    pub guild: Guild,
    pub specialisation: String,
    /// The Lord that commands it (guild agents).
    pub lord: Option<AgentId>,
    /// The guilds it may delegate to (Lords).
    pub commands: Vec<Guild>,
    pub tier: Tier,
    pub tools: Vec<Tool>,
    /// Tools of the user's MCP servers the runtime calls for it.
    pub mcp_tools: Vec<crate::McpToolUse>,
    pub codex_query: Option<String>,
    pub output_schema: Value,
    pub sample_input: Value,
    pub max_tokens: usize,
    /// The prompt template.
    pub body: String,
    /// For a duty (`prompts/duties/`): its name. A duty is one more job of
    /// an agent, with its own prompt and schema, run as that agent (its
    /// id is `AGENT.duty`); workflows name duties, Lords cannot delegate
    /// to them.
    pub duty: Option<String>,
    /// Where it was read from.
    #[serde(skip)]
    pub path: PathBuf,
}

impl AgentSpec {
    pub fn is_lord(&self) -> bool {
        self.guild == Guild::Council
    }

    /// Whether the schema asks for `delegations`.
    pub fn delegates(&self) -> bool {
        self.output_schema.pointer("/properties/delegations").is_some()
    }

    pub fn may_use(&self, tool: Tool) -> bool {
        self.tools.contains(&tool)
    }
}

/// All agents, by id, with their compiled templates and schemas.
#[derive(Debug, Clone)]
pub struct Roster {
    agents: BTreeMap<AgentId, Arc<AgentSpec>>,
    /// The agents' duties (`prompts/duties/`), by `AGENT.duty`.
    duties: BTreeMap<AgentId, Arc<AgentSpec>>,
    validators: BTreeMap<AgentId, Arc<jsonschema::Validator>>,
    templates: Arc<render::Templates>,
    dir: PathBuf,
}

impl Roster {
    /// Loads and checks every agent of `dir` (a `prompts/` directory). The
    /// first problem found is returned with the file it is in.
    pub fn load(dir: &Path) -> Result<Self, SpecError> {
        let mut agents = BTreeMap::new();
        for path in files_with_extension(&dir.join("agents"), "md")? {
            let spec = load_agent(dir, &path)?;
            if let Some(previous) = agents.insert(spec.id.clone(), Arc::new(spec)) {
                return Err(invalid(&path, format!("id {} is also used by {}", previous.id, previous.path.display())));
            }
        }
        let mut duties = BTreeMap::new();
        let duties_dir = dir.join("duties");
        if duties_dir.is_dir() {
            for path in files_with_extension(&duties_dir, "md")? {
                let spec = load_duty(dir, &path, &agents)?;
                duties.insert(spec.id.clone(), Arc::new(spec));
            }
        }
        let templates = render::Templates::compile(agents.values().chain(duties.values()).map(AsRef::as_ref))?;
        let mut validators = BTreeMap::new();
        for spec in agents.values().chain(duties.values()) {
            let validator = jsonschema::validator_for(&spec.output_schema)
                .map_err(|err| invalid(&dir.join(schema_path(spec)), format!("not a valid JSON Schema: {err}")))?;
            validators.insert(spec.id.clone(), Arc::new(validator));
        }
        let roster = Self { agents, duties, validators, templates: Arc::new(templates), dir: dir.to_owned() };
        roster.check()?;
        Ok(roster)
    }

    /// The directory this roster was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An agent, or a duty (`AGENT.duty`).
    pub fn get(&self, id: &str) -> Option<&Arc<AgentSpec>> {
        self.agents.iter().chain(self.duties.iter()).find(|(k, _)| k.as_str() == id).map(|(_, v)| v)
    }

    /// The duties, by id.
    pub fn duties(&self) -> impl Iterator<Item = &Arc<AgentSpec>> {
        self.duties.values()
    }

    pub fn agents(&self) -> impl Iterator<Item = &Arc<AgentSpec>> {
        self.agents.values()
    }

    pub fn len(&self) -> usize {
        self.agents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    pub(crate) fn templates(&self) -> &render::Templates {
        &self.templates
    }

    /// Checks `value` against the agent's output schema, and that none of
    /// its text holds a control character other than a line break or a tab
    /// (text the documents would refuse when the answer is applied, so the
    /// model is asked again now): the first few problems with where they
    /// are, or nothing.
    pub fn validate_output(&self, agent: &AgentId, value: &Value) -> Vec<String> {
        const SHOWN: usize = 4;
        let Some(validator) = self.validators.get(agent) else {
            return vec![format!("no agent {agent}")];
        };
        let mut problems: Vec<String> = validator
            .iter_errors(value)
            .take(SHOWN)
            .map(|err| {
                let at = err.instance_path().to_string();
                if at.is_empty() { err.to_string() } else { format!("{at}: {err}") }
            })
            .collect();
        crate::answer_text::control_characters(value, &mut String::new(), &mut problems, SHOWN);
        problems
    }

    /// The agents `lord` may delegate to: the agents of the guilds it commands.
    pub fn commanded_by<'a>(&'a self, lord: &'a AgentSpec) -> impl Iterator<Item = &'a Arc<AgentSpec>> + 'a {
        self.agents.values().filter(move |a| a.guild != Guild::Council && lord.commands.contains(&a.guild))
    }

    /// Checks one delegation of `lord`: that the agent exists, that its
    /// guild is one `lord` commands and that the input has the shape of the
    /// agent's sample input. The reason when it does not.
    pub fn check_delegation(&self, lord: &AgentSpec, agent: &str, input: &Value) -> Result<Arc<AgentSpec>, String> {
        let Some(spec) = self.get(agent) else {
            return Err(format!("there is no agent {agent:?} on the roster"));
        };
        if spec.guild == Guild::Council {
            return Err(format!("{agent} is a Lord; Lords delegate to guild agents only"));
        }
        if !lord.commands.contains(&spec.guild) {
            let commands: Vec<&str> = lord.commands.iter().map(|g| g.as_str()).collect();
            return Err(format!(
                "{agent} is in the {} guild, which {} ({}) does not command (it commands: {})",
                spec.guild,
                lord.id,
                lord.name,
                commands.join(", ")
            ));
        }
        check_shape(&spec.sample_input, input).map_err(|err| format!("the input for {agent} does not have the shape of its sample input: {err}"))?;
        Ok(spec.clone())
    }

    /// The schema a Lord generates against: its own, with `delegations`
    /// narrowed to the agents it commands and their input shapes, so that
    /// a constrained model cannot name an agent that does not exist.
    pub fn generation_schema(&self, spec: &AgentSpec) -> Value {
        let mut schema = spec.output_schema.clone();
        if spec.is_lord()
            && spec.delegates()
            && let Some(items) = schema.pointer_mut("/properties/delegations/items")
        {
            let task = items.pointer("/properties/task").cloned().unwrap_or_else(|| json!({"type": "string", "maxLength": 160}));
            let choices: Vec<Value> = self
                .commanded_by(spec)
                .map(|agent| {
                    json!({
                        "type": "object",
                        "properties": {
                            "agent": {"const": agent.id.as_str()},
                            "task": task,
                            "input": shape_schema(&agent.sample_input),
                        },
                        "required": ["agent", "task", "input"],
                        "additionalProperties": false,
                    })
                })
                .collect();
            *items = json!({ "anyOf": choices });
        }
        schema
    }

    /// The answer's token allowance: the agent's `max_tokens`, raised to
    /// what the longest answer its generation schema allows could take
    /// (at most [`MAX_TOKENS`]). A constrained local model tends to write strings up
    /// to their `maxLength`; an allowance below the schema's worst case
    /// cuts the JSON off and wastes the whole call.
    pub fn token_budget(&self, spec: &AgentSpec) -> usize {
        // About two characters per token for JSON of short English phrases,
        // counted generously (punctuation and keys are often a token each).
        spec.max_tokens.max(worst_case_chars(&self.generation_schema(spec)).div_ceil(2)).min(MAX_TOKENS)
    }

    /// What an agent's or a duty's tools need, and that its templates render
    /// with its sample input.
    fn check_tools_and_templates(&self, spec: &AgentSpec) -> Result<(), SpecError> {
        if spec.may_use(Tool::CodexSearch) != spec.codex_query.is_some() {
            return Err(invalid(&spec.path, "`codex_query` is needed with the codex.search tool, and only with it"));
        }
        if spec.may_use(Tool::GuardianCheck) && spec.sample_input.get("asset").is_none() {
            return Err(invalid(&spec.path, "the guardian.check tool reads input.asset, which the sample input lacks"));
        }
        self.templates
            .render_body(spec, &spec.sample_input)
            .map_err(|err| invalid(&spec.path, format!("the template does not render with the sample input: {err}")))?;
        if spec.codex_query.is_some() {
            self.templates
                .render_query(spec, &spec.sample_input)
                .map_err(|err| invalid(&spec.path, format!("codex_query does not render with the sample input: {err}")))?;
        }
        for tool in &spec.mcp_tools {
            self.templates
                .render_mcp_arguments(spec, tool, &spec.sample_input)
                .map_err(|err| invalid(&spec.path, format!("the arguments of {} do not render with the sample input: {err}", tool.name())))?;
        }
        Ok(())
    }

    /// The checks across files: the plan's ids, Lords and their guilds,
    /// templates that render with their samples, no duplicates.
    fn check(&self) -> Result<(), SpecError> {
        for spec in self.agents.values() {
            let (prefix, count) = spec.guild.roster();
            let number = spec.id.as_str().strip_prefix(prefix).and_then(|rest| rest.strip_prefix('-')).and_then(|n| n.parse::<u16>().ok());
            if !number.is_some_and(|n| (1..=count).contains(&n)) || spec.id.as_str().len() != prefix.len() + 4 {
                return Err(invalid(&spec.path, format!("id {} is not one of the {} guild's ids, {prefix}-001..{prefix}-{count:03}", spec.id, spec.guild)));
            }
            match (&spec.lord, spec.is_lord()) {
                (Some(_), true) => return Err(invalid(&spec.path, "a Lord has no `lord`; it lists the guilds it commands in `commands`")),
                (None, false) => return Err(invalid(&spec.path, "a guild agent names the Lord that commands it in `lord`")),
                (Some(lord), false) => {
                    let Some(lord_spec) = self.agents.get(lord) else {
                        return Err(invalid(&spec.path, format!("lord {lord} is not on the roster")));
                    };
                    if !lord_spec.is_lord() || !lord_spec.commands.contains(&spec.guild) {
                        return Err(invalid(&spec.path, format!("lord {lord} does not command the {} guild", spec.guild)));
                    }
                }
                (None, true) => {}
            }
            if !spec.is_lord() && !spec.commands.is_empty() {
                return Err(invalid(&spec.path, "only Lords have `commands`"));
            }
            if spec.is_lord() && spec.delegates() && spec.commands.is_empty() {
                return Err(invalid(&spec.path, "a Lord that delegates lists the guilds it commands in `commands`"));
            }
            self.check_tools_and_templates(spec)?;
        }
        for spec in self.duties.values() {
            if spec.delegates() {
                return Err(invalid(&spec.path, "a duty does not delegate: its schema may not have `delegations`"));
            }
            self.check_tools_and_templates(spec)?;
        }
        let mut bodies: BTreeMap<String, &AgentId> = BTreeMap::new();
        let mut schemas: BTreeMap<String, &AgentId> = BTreeMap::new();
        for spec in self.agents.values().chain(self.duties.values()) {
            if let Some(other) = bodies.insert(normalise_ws(&spec.body), &spec.id) {
                return Err(invalid(&spec.path, format!("the prompt body is the same as {other}'s")));
            }
            let mut schema = spec.output_schema.clone();
            strip_annotations(&mut schema);
            if let Some(other) = schemas.insert(schema.to_string(), &spec.id) {
                return Err(invalid(&self.dir.join(schema_path(spec)), format!("the output schema is the same as {other}'s")));
            }
        }
        Ok(())
    }
}

/// The largest answer allowance the runtime gives: with a prompt of up to
/// 2048 tokens it fits the 4096-token context the local model is loaded with.
pub const MAX_TOKENS: usize = 2048;

/// An upper bound of the length in characters of the compact JSON a value
/// matching `schema` can have (for the schema subset prompts/README.md
/// allows; anything unbounded counts as 400 characters).
pub fn worst_case_chars(schema: &Value) -> usize {
    const UNBOUNDED: usize = 400;
    if let Some(value) = schema.get("const") {
        return value.to_string().len();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values.iter().map(|v| v.to_string().len()).max().unwrap_or(4);
    }
    if let Some(choices) = schema.get("anyOf").and_then(Value::as_array) {
        return choices.iter().map(worst_case_chars).max().unwrap_or(UNBOUNDED);
    }
    let limit = |key: &str| schema.get(key).and_then(Value::as_u64).map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => match schema.get("properties").and_then(Value::as_object) {
            Some(properties) => 2 + properties.iter().map(|(key, value)| key.len() + 4 + worst_case_chars(value)).sum::<usize>(),
            None => UNBOUNDED,
        },
        Some("array") => {
            let item = schema.get("items").map_or(UNBOUNDED, worst_case_chars);
            2 + limit("maxItems").unwrap_or(6).saturating_mul(item + 1)
        }
        // Quotes, and a little for escapes.
        Some("string") => limit("maxLength").map_or(UNBOUNDED, |n| n + n / 16 + 2),
        Some("integer") | Some("number") => 20,
        Some("boolean") => 5,
        Some("null") => 4,
        _ => UNBOUNDED,
    }
}

fn schema_path(spec: &AgentSpec) -> PathBuf {
    PathBuf::from(format!("schemas/{}.json", spec.id))
}

fn normalise_ws(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes what does not change a schema's meaning (titles, descriptions).
fn strip_annotations(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in ["title", "description", "$schema", "$id"] {
                map.remove(key);
            }
            map.values_mut().for_each(strip_annotations);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_annotations),
        _ => {}
    }
}

/// The `.EXT` files of `dir`, sorted (agents, duties, workflows).
pub(crate) fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, SpecError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SpecError::Read { path: dir.to_owned(), source })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == ext)).collect();
    paths.sort();
    Ok(paths)
}

/// An agent or duty file: its front matter (TOML between `+++` lines) and
/// its trimmed, non-empty prompt body.
fn read_front_matter<T: serde::de::DeserializeOwned>(path: &Path) -> Result<(T, String), SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_owned(), source })?;
    let text = text.replace("\r\n", "\n");
    let rest = text.strip_prefix("+++\n").ok_or_else(|| invalid(path, "the file must start with a +++ line opening the front matter"))?;
    let (front, body) = rest.split_once("\n+++\n").ok_or_else(|| invalid(path, "no +++ line closes the front matter"))?;
    if body.trim().is_empty() {
        return Err(invalid(path, "the prompt body is empty"));
    }
    let front: T = toml::from_str(front).map_err(|err| invalid(path, format!("front matter: {}", err.message())))?;
    Ok((front, body.trim().to_owned()))
}

fn parse_tools(path: &Path, names: &[String]) -> Result<Vec<Tool>, SpecError> {
    let mut tools = Vec::new();
    for name in names {
        let tool: Tool = serde_json::from_value(Value::String(name.clone())).map_err(|_| {
            invalid(
                path,
                format!("front matter: tools: unknown tool {name:?} (known: codex.search, workspace.read, guardian.check, and mcp:SERVER/TOOL for agents)"),
            )
        })?;
        if tools.contains(&tool) {
            return Err(invalid(path, format!("front matter: tools: {name} is listed twice")));
        }
        tools.push(tool);
    }
    Ok(tools)
}

/// The output schema and sample input a file names, read and checked.
fn read_schema_and_sample(dir: &Path, path: &Path, schema: &str, sample: &str) -> Result<(Value, Value), SpecError> {
    let read_json = |relative: &str, what: &str| -> Result<Value, SpecError> {
        let file = dir.join(relative);
        if Path::new(relative).is_absolute() || relative.contains("..") {
            return Err(invalid(path, format!("front matter: {what} must be a path inside the prompts directory, not {relative:?}")));
        }
        let text = std::fs::read_to_string(&file).map_err(|source| SpecError::Read { path: file.clone(), source })?;
        serde_json::from_str(&text).map_err(|err| invalid(&file, format!("not JSON: {err}")))
    };
    let output_schema = read_json(schema, "output_schema")?;
    if output_schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(invalid(&dir.join(schema), "an agent's answer is a JSON object: the schema's type must be \"object\""));
    }
    let sample_input = read_json(sample, "sample_input")?;
    if !sample_input.is_object() {
        return Err(invalid(&dir.join(sample), "a sample input is a JSON object"));
    }
    Ok((output_schema, sample_input))
}

fn check_common(path: &Path, specialisation: &str, max_tokens: usize) -> Result<(), SpecError> {
    if !(16..=MAX_TOKENS).contains(&max_tokens) {
        return Err(invalid(path, format!("front matter: max_tokens {max_tokens} is outside 16..={MAX_TOKENS}")));
    }
    if specialisation.trim().is_empty() {
        return Err(invalid(path, "front matter: specialisation is empty"));
    }
    Ok(())
}

fn load_agent(dir: &Path, path: &Path) -> Result<AgentSpec, SpecError> {
    let (front, body): (FrontMatter, String) = read_front_matter(path)?;
    let id: AgentId = front.id.parse().map_err(|err| invalid(path, format!("front matter: {err}")))?;
    if path.file_stem().and_then(|s| s.to_str()) != Some(id.as_str()) {
        return Err(invalid(path, format!("the file of agent {id} must be named {id}.md")));
    }
    let guild: Guild = front.guild.parse().map_err(|err: String| invalid(path, format!("front matter: {err}")))?;
    let lord = front.lord.map(|l| l.parse::<AgentId>()).transpose().map_err(|err| invalid(path, format!("front matter: lord: {err}")))?;
    let commands = front
        .commands
        .iter()
        .map(|g| g.parse::<Guild>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| invalid(path, format!("front matter: commands: {err}")))?;
    if commands.contains(&Guild::Council) {
        return Err(invalid(path, "front matter: commands: Lords do not command the council"));
    }
    let (builtin, mcp_tools) = crate::mcp_tools::split(path, &front.tools, front.mcp_arguments)?;
    let tools = parse_tools(path, &builtin)?;
    let (output_schema, sample_input) = read_schema_and_sample(dir, path, &front.output_schema, &front.sample_input)?;
    check_common(path, &front.specialisation, front.max_tokens)?;
    if front.name.trim().is_empty() {
        return Err(invalid(path, "front matter: name is empty"));
    }
    Ok(AgentSpec {
        id,
        name: front.name,
        guild,
        specialisation: front.specialisation,
        lord,
        commands,
        tier: front.tier,
        tools,
        mcp_tools,
        codex_query: front.codex_query,
        output_schema,
        sample_input,
        max_tokens: front.max_tokens,
        body,
        duty: None,
        path: path.to_owned(),
    })
}

/// A duty's front matter (`prompts/duties/AGENT.duty.md`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DutyFrontMatter {
    agent: String,
    duty: String,
    specialisation: String,
    #[serde(default)]
    tools: Vec<String>,
    codex_query: Option<String>,
    output_schema: String,
    sample_input: String,
    max_tokens: usize,
}

/// Reads a duty of an agent already loaded: the agent's spec with the
/// duty's prompt, tools, schema and sample.
fn load_duty(dir: &Path, path: &Path, agents: &BTreeMap<AgentId, Arc<AgentSpec>>) -> Result<AgentSpec, SpecError> {
    let (front, body): (DutyFrontMatter, String) = read_front_matter(path)?;
    let agent = agents
        .iter()
        .find(|(id, _)| id.as_str() == front.agent)
        .map(|(_, spec)| spec)
        .ok_or_else(|| invalid(path, format!("front matter: agent {:?} is not on the roster", front.agent)))?;
    if front.duty.is_empty() || !front.duty.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(invalid(path, format!("front matter: duty {:?} must be lower-case words joined by '-'", front.duty)));
    }
    let id: AgentId = format!("{}.{}", agent.id, front.duty).parse().map_err(|err| invalid(path, format!("front matter: {err}")))?;
    if path.file_stem().and_then(|s| s.to_str()) != Some(id.as_str()) {
        return Err(invalid(path, format!("the file of duty {id} must be named {id}.md")));
    }
    let (output_schema, sample_input) = read_schema_and_sample(dir, path, &front.output_schema, &front.sample_input)?;
    check_common(path, &front.specialisation, front.max_tokens)?;
    Ok(AgentSpec {
        id,
        specialisation: front.specialisation,
        commands: Vec::new(),
        tools: parse_tools(path, &front.tools)?,
        // A duty's prompt is its own: it gets the tools its file names.
        mcp_tools: Vec::new(),
        codex_query: front.codex_query,
        output_schema,
        sample_input,
        max_tokens: front.max_tokens,
        body,
        duty: Some(front.duty),
        path: path.to_owned(),
        ..AgentSpec::clone(agent)
    })
}

/// The kind of a JSON value, as error messages name it.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks that `input` has the shape of `sample`: the same keys, each with
/// a value of the same kind (an integer passes for a number, and `null`
/// where the sample has `null` takes anything), recursively; the items of
/// arrays are checked against the sample's first item.
pub fn check_shape(sample: &Value, input: &Value) -> Result<(), String> {
    check_shape_at(sample, input, &mut String::new())
}

fn check_shape_at(sample: &Value, input: &Value, at: &mut String) -> Result<(), String> {
    let here = |at: &str| if at.is_empty() { "the input".to_owned() } else { at.to_owned() };
    match (sample, input) {
        (Value::Null, _) => Ok(()),
        (Value::Object(want), Value::Object(have)) => {
            let missing: BTreeSet<&String> = want.keys().filter(|k| !have.contains_key(*k)).collect();
            if !missing.is_empty() {
                return Err(format!("{} lacks {}", here(at), missing.into_iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")));
            }
            if let Some(extra) = have.keys().find(|k| !want.contains_key(*k)) {
                return Err(format!("{} has `{extra}`, which the agent does not take", here(at)));
            }
            for (key, value) in want {
                let len = at.len();
                at.push_str(if at.is_empty() { "" } else { "." });
                at.push_str(key);
                check_shape_at(value, &have[key], at)?;
                at.truncate(len);
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(have)) => {
            if let Some(first) = want.first() {
                for (i, item) in have.iter().enumerate() {
                    let len = at.len();
                    at.push_str(&format!("[{i}]"));
                    check_shape_at(first, item, at)?;
                    at.truncate(len);
                }
            }
            Ok(())
        }
        (Value::Number(_), Value::Number(_)) if kind(sample) == "a number" => Ok(()),
        (want, have) if kind(want) == kind(have) => Ok(()),
        (want, have) => Err(format!("{} is {} where {} was expected", here(at), kind(have), kind(want))),
    }
}

/// A JSON Schema for values shaped like `sample` (what [`check_shape`]
/// accepts, with short strings and arrays): generating a delegation's input.
pub fn shape_schema(sample: &Value) -> Value {
    match sample {
        Value::Null => json!({}),
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "integer"}),
        Value::Number(_) => json!({"type": "number"}),
        Value::String(_) => json!({"type": "string", "maxLength": 160}),
        Value::Array(items) => match items.first() {
            Some(first) => json!({"type": "array", "maxItems": 3, "items": shape_schema(first)}),
            None => json!({"type": "array", "maxItems": 0}),
        },
        Value::Object(map) => {
            let properties: serde_json::Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), shape_schema(v))).collect();
            let required: Vec<&String> = map.keys().collect();
            json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_accept_the_same_keys_and_kinds_and_name_what_differs() {
        let sample = json!({"company": "A", "budget": 1.5, "weeks": 4, "channels": ["x"], "extra": null, "nested": {"k": true}});
        let ok = json!({"company": "B", "budget": 2, "weeks": 6, "channels": [], "extra": {"any": 1}, "nested": {"k": false}});
        assert_eq!(check_shape(&sample, &ok), Ok(()));
        let missing = json!({"company": "B", "budget": 2, "weeks": 6, "channels": [], "extra": 1});
        assert_eq!(check_shape(&sample, &missing).unwrap_err(), "the input lacks `nested`");
        let wrong = json!({"company": "B", "budget": 2, "weeks": 6.5, "channels": [], "extra": 1, "nested": {"k": true}});
        assert_eq!(check_shape(&sample, &wrong).unwrap_err(), "weeks is a number where an integer was expected");
        let item = json!({"company": "B", "budget": 2, "weeks": 6, "channels": ["a", 3], "extra": 1, "nested": {"k": true}});
        assert_eq!(check_shape(&sample, &item).unwrap_err(), "channels[1] is an integer where a string was expected");
        let extra = json!({"company": "B", "budget": 2, "weeks": 6, "channels": [], "extra": 1, "nested": {"k": true, "z": 1}});
        assert_eq!(check_shape(&sample, &extra).unwrap_err(), "nested has `z`, which the agent does not take");
    }

    #[test]
    fn the_worst_case_length_bounds_every_answer_of_a_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 10},
                "level": {"type": "string", "enum": ["low", "medium"]},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "maxLength": 3}},
                "n": {"type": "integer"}
            }
        });
        let longest = json!({"name": "abcdefghij", "level": "medium", "tags": ["abc", "def"], "n": -1234567890123456789i64});
        assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&longest));
        assert!(worst_case_chars(&schema) >= longest.to_string().len(), "{} < {}", worst_case_chars(&schema), longest.to_string().len());
    }

    #[test]
    fn the_shape_schema_accepts_the_sample() {
        let sample = json!({"company": "A", "budget": 1.5, "channels": ["x"], "nested": {"k": true}});
        let schema = shape_schema(&sample);
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&sample));
        assert!(!validator.is_valid(&json!({"company": "A"})));
    }
}
