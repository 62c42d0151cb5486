//! Workflows as data (`prompts/workflows/*.toml`, see prompts/README.md):
//! which Lord leads, which agents and duties run on what, the step graph
//! and where a human approves. A workflow turns into a run's steps for a
//! context (the business of an onboarding, the campaign of a plan...).
//!
//! Inputs are written as templates over the context: a string is a
//! minijinja template rendered to text, a string starting with `=` is an
//! expression whose value is used as it is (a list, a number), and tables
//! and arrays are built item by item. Loading renders every step with the
//! workflow's sample context and checks the result against the agent's
//! sample input, so a workflow that would hand an agent the wrong shape is
//! refused at start, not halfway through a run.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::Arc,
};

use minijinja::{Environment, UndefinedBehavior};
use rf_domain::AgentId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    run::{NewStep, Review, ReviewRole},
    spec::{Roster, SpecError, check_shape},
};

/// Most instances one `foreach` step may fan out to.
pub const MAX_FANOUT: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkflowFile {
    workflow: Header,
    step: Vec<StepFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    id: String,
    name: String,
    lead: String,
    summary: String,
    /// The context's sample, relative to `prompts/`.
    sample_context: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    id: String,
    agent: Option<String>,
    approval: Option<String>,
    #[serde(default)]
    input: toml::Table,
    #[serde(default)]
    after: Vec<String>,
    foreach: Option<String>,
    limit: Option<usize>,
    review: Option<ReviewFile>,
    /// On an approval: the step whose answer the engine writes into the
    /// workspace once a human approves (`apply = { step = "brand-codex",
    /// to = "brand_codex" }`).
    apply: Option<ApplyFile>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ApplyFile {
    /// The workflow steps whose answers are applied (every instance of a
    /// `foreach` step, for the targets that take many), in order.
    pub steps: Vec<String>,
    /// Where they go: one of [`APPLY_TARGETS`].
    pub to: String,
}

/// `apply` as written: `step = "x"` or `steps = ["x", "y"]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyTable {
    step: Option<String>,
    #[serde(default)]
    steps: Vec<String>,
    to: String,
}

impl<'de> Deserialize<'de> for ApplyFile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let table = ApplyTable::deserialize(deserializer)?;
        match (table.step, table.steps.is_empty()) {
            (Some(step), true) => Ok(Self { steps: vec![step], to: table.to }),
            (None, false) => Ok(Self { steps: table.steps, to: table.to }),
            _ => Err(serde::de::Error::custom("apply names its steps with either `step` or a non-empty `steps`")),
        }
    }
}

/// Where approved answers can go.
pub const APPLY_TARGETS: [&str; 4] = ["brand_codex", "moves", "assets", "digest"];

/// The targets that take the answers of every instance of a `foreach` step.
const MANY_TARGETS: [&str; 2] = ["moves", "assets"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewFile {
    reviewer: String,
    work_field: String,
    max_rounds: u32,
    #[serde(default)]
    input: toml::Table,
}

/// A workflow step, checked.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct WorkflowStep {
    pub id: String,
    /// The agent or duty it runs; none for an approval.
    pub agent: Option<AgentId>,
    /// The question a human answers; none for an agent step.
    pub approval: Option<String>,
    /// Steps (of this workflow) it waits for; their results reach it as data.
    pub after: Vec<String>,
    /// An expression giving a list: one step per item (`item` in templates).
    pub foreach: Option<String>,
    pub limit: Option<usize>,
    /// The reviewer that judges the step's answer, if any.
    pub reviewer: Option<AgentId>,
    /// On an approval: what it applies once approved.
    pub apply: Option<ApplyFile>,
    #[serde(skip)]
    input: Value,
    #[serde(skip)]
    review: Option<(Value, String, u32)>,
}

/// A workflow, checked against the roster.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Workflow {
    pub id: String,
    pub name: String,
    /// The Lord that leads it.
    pub lead: AgentId,
    pub summary: String,
    pub steps: Vec<WorkflowStep>,
    /// A context it runs on, for `workflows show` and the checks.
    pub sample_context: Value,
    #[serde(skip)]
    pub path: PathBuf,
}

/// Every workflow of `prompts/workflows/`, by id.
#[derive(Debug, Clone, Default)]
pub struct Workflows {
    by_id: BTreeMap<String, Arc<Workflow>>,
}

fn invalid(path: &Path, message: impl Into<String>) -> SpecError {
    SpecError::Invalid { path: path.to_owned(), message: message.into() }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env
}

fn to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
        toml::Value::Table(table) => Value::Object(table.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
    }
}

/// Renders an input template with `vars`: strings as templates, `=expr`
/// strings as expressions' values.
fn render(env: &Environment<'_>, template: &Value, vars: &minijinja::Value, at: &str) -> Result<Value, String> {
    match template {
        Value::String(text) => {
            if let Some(expression) = text.strip_prefix('=') {
                let value = env
                    .compile_expression_owned(expression.to_owned())
                    .and_then(|e| e.eval(vars))
                    .map_err(|err| format!("{at}: the expression {expression:?} fails: {err:#}"))?;
                if value.is_undefined() {
                    return Err(format!("{at}: the expression {expression:?} names nothing in the context"));
                }
                serde_json::to_value(&value).map_err(|err| format!("{at}: {err}"))
            } else {
                env.render_str(text, vars.clone()).map(|s| Value::String(s.trim().to_owned())).map_err(|err| format!("{at}: {err:#}"))
            }
        }
        Value::Array(items) => {
            items.iter().enumerate().map(|(i, item)| render(env, item, vars, &format!("{at}[{i}]"))).collect::<Result<Vec<_>, _>>().map(Value::Array)
        }
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| Ok((key.clone(), render(env, value, vars, &format!("{at}.{key}"))?)))
            .collect::<Result<serde_json::Map<_, _>, String>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

impl Workflows {
    /// Loads and checks every workflow of `dir/workflows` (none when the
    /// directory is missing).
    pub fn load(dir: &Path, roster: &Roster) -> Result<Self, SpecError> {
        let workflows_dir = dir.join("workflows");
        let mut by_id = BTreeMap::new();
        if !workflows_dir.is_dir() {
            return Ok(Self { by_id });
        }
        for path in crate::spec::files_with_extension(&workflows_dir, "toml")? {
            let workflow = Workflow::load(dir, &path, roster)?;
            if let Some(previous) = by_id.insert(workflow.id.clone(), Arc::new(workflow)) {
                return Err(invalid(&path, format!("workflow id {} is also used by {}", previous.id, previous.path.display())));
            }
        }
        Ok(Self { by_id })
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Workflow>> {
        self.by_id.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Workflow>> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

impl Workflow {
    fn load(dir: &Path, path: &Path, roster: &Roster) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_owned(), source })?;
        let file: WorkflowFile = toml::from_str(&text).map_err(|err| invalid(path, err.message().to_owned()))?;
        let header = file.workflow;
        if path.file_stem().and_then(|s| s.to_str()) != Some(header.id.as_str()) {
            return Err(invalid(path, format!("the file of workflow {} must be named {}.toml", header.id, header.id)));
        }
        let lead = roster
            .get(&header.lead)
            .filter(|spec| spec.is_lord() && spec.duty.is_none())
            .map(|spec| spec.id.clone())
            .ok_or_else(|| invalid(path, format!("lead {:?} is not a Lord of the roster", header.lead)))?;
        let sample_path = dir.join(&header.sample_context);
        if Path::new(&header.sample_context).is_absolute() || header.sample_context.contains("..") {
            return Err(invalid(path, "sample_context must be a path inside the prompts directory"));
        }
        let sample_text = std::fs::read_to_string(&sample_path).map_err(|source| SpecError::Read { path: sample_path.clone(), source })?;
        let sample_context: Value = serde_json::from_str(&sample_text).map_err(|err| invalid(&sample_path, format!("not JSON: {err}")))?;
        if !sample_context.is_object() {
            return Err(invalid(&sample_path, "a context is a JSON object"));
        }
        if file.step.is_empty() {
            return Err(invalid(path, "a workflow has at least one [[step]]"));
        }
        let mut steps: Vec<WorkflowStep> = Vec::new();
        for step in file.step {
            let fail = |message: String| invalid(path, format!("step {:?}: {message}", step.id));
            if step.id.is_empty() || !step.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                return Err(fail("a step id is lower-case words joined by '-'".into()));
            }
            if steps.iter().any(|s| s.id == step.id) {
                return Err(fail("the id is used twice".into()));
            }
            for dep in &step.after {
                if !steps.iter().any(|s| &s.id == dep) {
                    return Err(fail(format!("`after` names {dep:?}, which is not a step before this one")));
                }
            }
            let agent = match (&step.agent, &step.approval) {
                (Some(agent), None) => {
                    Some(roster.get(agent).map(|s| s.id.clone()).ok_or_else(|| fail(format!("agent {agent:?} is not on the roster (nor a duty)")))?)
                }
                (None, Some(question)) if !question.trim().is_empty() => {
                    if !step.input.is_empty() || step.review.is_some() {
                        return Err(fail("an approval step has no input and no review".into()));
                    }
                    if let Some(apply) = &step.apply {
                        if !APPLY_TARGETS.contains(&apply.to.as_str()) {
                            return Err(fail(format!("apply.to {:?} is not one of {}", apply.to, APPLY_TARGETS.join(", "))));
                        }
                        let many = MANY_TARGETS.contains(&apply.to.as_str());
                        if !many && apply.steps.len() != 1 {
                            return Err(fail(format!("apply to {:?} takes one step", apply.to)));
                        }
                        for applied in &apply.steps {
                            match steps.iter().find(|s| &s.id == applied) {
                                Some(target) if target.agent.is_some() && (many || target.foreach.is_none()) => {}
                                _ if many => return Err(fail(format!("apply names {applied:?}, which is not an agent step before this one"))),
                                _ => return Err(fail(format!("apply names {applied:?}, which is not an agent step before this one without foreach"))),
                            }
                            if !step.after.contains(applied) {
                                return Err(fail(format!("an approval that applies {applied:?} waits for it: add it to `after`")));
                            }
                        }
                    }
                    None
                }
                _ => return Err(fail("a step has either `agent` or a non-empty `approval` question".into())),
            };
            if step.apply.is_some() && step.approval.is_none() {
                return Err(fail("`apply` goes with `approval`".into()));
            }
            if step.limit.is_some() && step.foreach.is_none() {
                return Err(fail("`limit` goes with `foreach`".into()));
            }
            if step.limit.is_some_and(|l| l == 0 || l > MAX_FANOUT) {
                return Err(fail(format!("`limit` must be 1 to {MAX_FANOUT}")));
            }
            let review = match step.review {
                Some(review) => {
                    let reviewer = roster.get(&review.reviewer).ok_or_else(|| fail(format!("reviewer {:?} is not on the roster", review.reviewer)))?;
                    if reviewer.output_schema.pointer("/properties/verdict").is_none() {
                        return Err(fail(format!("reviewer {} does not answer with a `verdict`", reviewer.id)));
                    }
                    if !(1..=5).contains(&review.max_rounds) {
                        return Err(fail("review max_rounds must be 1 to 5".into()));
                    }
                    Some((
                        reviewer.id.clone(),
                        Value::Object(review.input.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
                        review.work_field,
                        review.max_rounds,
                    ))
                }
                None => None,
            };
            // Inputs that take an earlier step's answer (`"@STEP"`): one of
            // the steps it waits for, fanned out over the same items.
            for (field, value) in &step.input {
                let Some(source) = value.as_str().and_then(|v| v.strip_prefix('@')) else { continue };
                match steps.iter().find(|s| s.id == source) {
                    Some(earlier) if earlier.agent.is_some() && step.after.iter().any(|a| a == source) => {
                        if earlier.foreach != step.foreach || earlier.limit != step.limit {
                            return Err(fail(format!("input {field:?} takes the answers of {source:?}, whose foreach and limit must be this step's")));
                        }
                    }
                    _ => return Err(fail(format!("input {field:?} takes the answer of {source:?}, which is not an agent step this one waits for"))),
                }
            }
            steps.push(WorkflowStep {
                id: step.id,
                agent,
                approval: step.approval,
                after: step.after,
                foreach: step.foreach,
                limit: step.limit,
                reviewer: review.as_ref().map(|r| r.0.clone()),
                apply: step.apply,
                input: Value::Object(step.input.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
                review: review.map(|(_, input, field, rounds)| (input, field, rounds)),
            });
        }
        let workflow = Workflow { id: header.id, name: header.name, lead, summary: header.summary, steps, sample_context, path: path.to_owned() };
        // Every step renders with the sample and fits its agent.
        let planned = workflow.plan(roster, &workflow.sample_context).map_err(|err| invalid(path, format!("with {}: {err}", header.sample_context)))?;
        for step in &workflow.steps {
            if !planned.iter().any(|(id, _)| id == &step.id) {
                return Err(invalid(path, format!("step {:?}: the sample context gives its foreach no items, so it cannot be checked", step.id)));
            }
        }
        Ok(workflow)
    }

    /// The run's steps for `context`, each with the workflow step id it
    /// comes from. Steps are numbered from 1 in this order when the run is
    /// created; a step waits for every instance of the steps it names in
    /// `after` (none, when a `foreach` gave no items).
    pub fn plan(&self, roster: &Roster, context: &Value) -> Result<Vec<(String, NewStep)>, String> {
        let env = environment();
        let base = minijinja::Value::from(minijinja::value::Serde(context));
        let mut numbers: HashMap<&str, Vec<u32>> = HashMap::new();
        let mut items_of: HashMap<&str, Vec<Value>> = HashMap::new();
        let mut planned: Vec<(String, NewStep)> = Vec::new();
        for step in &self.steps {
            let items: Vec<Option<Value>> = match &step.foreach {
                None => vec![None],
                Some(expression) => {
                    let value = env
                        .compile_expression_owned(expression.to_owned())
                        .and_then(|e| e.eval(&base))
                        .map_err(|err| format!("step {:?}: foreach {expression:?} fails: {err:#}", step.id))?;
                    let value = serde_json::to_value(&value).map_err(|err| format!("step {:?}: {err}", step.id))?;
                    match value {
                        Value::Array(items) => items.into_iter().take(step.limit.unwrap_or(MAX_FANOUT)).map(Some).collect(),
                        Value::Null => Vec::new(),
                        other => return Err(format!("step {:?}: foreach {expression:?} gives {other}, not a list", step.id)),
                    }
                }
            };
            let deps: Vec<u32> = step.after.iter().flat_map(|d| numbers.get(d.as_str()).cloned().unwrap_or_default()).collect();
            for (index, item) in items.into_iter().enumerate() {
                let vars = match &item {
                    Some(item) => {
                        let mut map = context.as_object().cloned().unwrap_or_default();
                        map.insert("item".into(), item.clone());
                        minijinja::Value::from(minijinja::value::Serde(&map))
                    }
                    None => base.clone(),
                };
                let at = format!("step {:?}: input", step.id);
                let new = match &step.agent {
                    Some(agent) => {
                        let spec = roster.get(agent.as_str()).ok_or_else(|| format!("step {:?}: agent {agent} is not on the roster", step.id))?;
                        let (answers, templates): (Vec<_>, Vec<_>) = step.input.as_object().into_iter().flatten().partition(|(_, v)| is_answer_ref(v));
                        let templates = Value::Object(templates.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect());
                        let mut input = render(&env, &templates, &vars, &at)?;
                        // Answers arrive when the step starts: until then the
                        // sample's value stands in for the shape check.
                        let mut whole = input.clone();
                        for (field, source) in &answers {
                            let source = source.as_str().unwrap_or_default().trim_start_matches('@');
                            let number = numbers.get(source).and_then(|n| n.get(index)).copied();
                            input[field.as_str()] = serde_json::json!({ crate::run::ANSWER_OF: number });
                            whole[field.as_str()] = spec.sample_input.get(field.as_str()).cloned().unwrap_or(Value::Null);
                        }
                        check_shape(&spec.sample_input, &whole)
                            .map_err(|err| format!("step {:?}: the input for {agent} does not have the shape of its sample input: {err}", step.id))?;
                        let mut new = NewStep::agent(spec, input);
                        // The graph says who does what: no Lord delegates in it.
                        new.extra.no_delegation = true;
                        if let Some(item) = item.as_ref().and_then(Value::as_str) {
                            new.label = format!("{} ({})", new.label, truncate(item, 60));
                        }
                        if let (Some(reviewer), Some((template, work_field, max_rounds))) = (&step.reviewer, &step.review) {
                            let reviewer_spec =
                                roster.get(reviewer.as_str()).ok_or_else(|| format!("step {:?}: reviewer {reviewer} is not on the roster", step.id))?;
                            let mut reviewer_input = render(&env, template, &vars, &format!("step {:?}: review input", step.id))?;
                            // The work goes in `work_field` when the review runs.
                            let mut whole = reviewer_input.clone();
                            if let Value::Object(map) = &mut whole {
                                map.insert(work_field.clone(), reviewer_spec.sample_input.get(work_field).cloned().unwrap_or(Value::Null));
                            }
                            check_shape(&reviewer_spec.sample_input, &whole).map_err(|err| {
                                format!(
                                    "step {:?}: the review input for {reviewer} (with its {work_field:?}) does not have the shape of its sample input: {err}",
                                    step.id
                                )
                            })?;
                            if let Value::Object(map) = &mut reviewer_input {
                                map.remove(work_field);
                            }
                            new.review = Some(Review {
                                reviewer: reviewer.clone(),
                                reviewer_input,
                                work_field: work_field.clone(),
                                max_rounds: *max_rounds,
                                round: 1,
                                role: ReviewRole::Producer,
                                of_step: None,
                            });
                        }
                        new
                    }
                    None => {
                        let question = env
                            .render_str(step.approval.as_deref().unwrap_or_default(), vars.clone())
                            .map_err(|err| format!("step {:?}: approval: {err:#}", step.id))?;
                        let mut new = NewStep::approval(question.trim());
                        if let Some(apply) = &step.apply {
                            let from: Vec<u32> = apply.steps.iter().flat_map(|a| numbers.get(a.as_str()).cloned().unwrap_or_default()).collect();
                            let items: Vec<Value> = apply.steps.iter().flat_map(|a| items_of.get(a.as_str()).cloned().unwrap_or_default()).collect();
                            // The fields a person asked to have rewritten even where they edited them.
                            let regenerate = context.get("regenerate").cloned().unwrap_or(Value::Array(Vec::new()));
                            new.input = serde_json::json!({
                                "apply": apply.to,
                                "from_step": from.first(),
                                "from_steps": from,
                                // The foreach item of each of them (null without foreach).
                                "items": items,
                                "regenerate": regenerate,
                                // Where the answers go (the campaign...), as the context says.
                                "target": context.get("target").cloned().unwrap_or(Value::Null),
                            });
                        }
                        new
                    }
                };
                items_of.entry(step.id.as_str()).or_default().push(item.clone().unwrap_or(Value::Null));
                planned.push((step.id.clone(), new.after(&deps)));
                let number = u32::try_from(planned.len()).unwrap_or(u32::MAX);
                numbers.entry(step.id.as_str()).or_default().push(number);
            }
        }
        Ok(planned)
    }
}

/// Whether an input template takes an earlier step's answer (`"@STEP"`).
fn is_answer_ref(value: &Value) -> bool {
    value.as_str().is_some_and(|v| v.starts_with('@'))
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max { text.to_owned() } else { format!("{}…", text.chars().take(max - 1).collect::<String>()) }
}
