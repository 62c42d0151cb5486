//! Runs and steps as they are stored.

use std::{fmt, str::FromStr};

use rf_domain::{AgentId, RunId, UserId, WorkspaceId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }
    };
}

text_enum!(
    /// Where a run stands.
    RunStatus {
        /// Created, not started yet.
        Pending = "pending",
        Running = "running",
        /// An approval step waits for a human.
        Paused = "paused",
        /// Steps failed too often and sit in the dead-letter list; retrying
        /// or dropping them continues the run.
        Blocked = "blocked",
        Finished = "finished",
        /// A human rejected an approval, or the run could not go on.
        Failed = "failed",
        Cancelled = "cancelled",
        /// The next step could have taken the run past its budget.
        Stopped = "stopped",
    }
);

impl RunStatus {
    /// Whether the run can still go on (after an approval, a retry, a resume).
    pub fn is_open(self) -> bool {
        matches!(self, RunStatus::Pending | RunStatus::Running | RunStatus::Paused | RunStatus::Blocked)
    }
}

text_enum!(
    /// Where a step stands.
    StepStatus {
        Pending = "pending",
        Running = "running",
        Done = "done",
        /// Failed; it is tried again.
        Failed = "failed",
        /// Failed as many times as allowed: a dead letter.
        Dead = "dead",
        /// An approval waiting for a human.
        Waiting = "waiting",
        Approved = "approved",
        Rejected = "rejected",
        Cancelled = "cancelled",
        /// Not run: a step it depends on was rejected or dropped.
        Skipped = "skipped",
        /// A dead letter a human gave up on.
        Dropped = "dropped",
    }
);

impl StepStatus {
    /// Whether steps that depend on this one may start.
    pub fn lets_dependents_run(self) -> bool {
        matches!(self, StepStatus::Done | StepStatus::Approved)
    }

    /// Whether steps that depend on this one will never run.
    pub fn blocks_dependents_for_good(self) -> bool {
        matches!(self, StepStatus::Rejected | StepStatus::Skipped | StepStatus::Dropped | StepStatus::Cancelled)
    }
}

text_enum!(
    /// What a step does.
    StepKind {
        /// Runs an agent.
        Agent = "agent",
        /// Waits for a human to approve or reject.
        Approval = "approval",
    }
);

/// How a review loop goes on after a step: after the producer's step, the
/// reviewer (a Lord with `verdict` and `reasons`) looks at its answer; if it
/// sends it back, the producer runs again with the reasons, at most
/// `max_rounds` times in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Review {
    pub reviewer: AgentId,
    /// The reviewer's input but the work itself (e.g. the brief and market).
    pub reviewer_input: Value,
    /// The field of the reviewer's input that gets the producer's answer.
    pub work_field: String,
    pub max_rounds: u32,
    /// This step's round (1 for the first answer).
    pub round: u32,
    /// `producer` steps are the work; `reviewer` steps judge it.
    pub role: ReviewRole,
    /// The producer step this reviewer step judges.
    pub of_step: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ReviewRole {
    Producer,
    Reviewer,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RunRecord {
    pub id: RunId,
    pub workspace_id: Option<WorkspaceId>,
    pub user_id: UserId,
    pub title: String,
    pub status: RunStatus,
    pub reason: Option<String>,
    pub budget_micro_usd: u64,
    pub spent_micro_usd: u64,
    pub parallelism: u32,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A step as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StepRecord {
    pub run_id: RunId,
    pub step: u32,
    pub kind: StepKind,
    pub agent_id: Option<AgentId>,
    pub label: String,
    pub parent: Option<u32>,
    pub deps: Vec<u32>,
    pub status: StepStatus,
    pub attempts: u32,
    pub input: Value,
    pub review: Option<Review>,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub note: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub calls: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micro_usd: u64,
    pub ledger_ids: Vec<i64>,
    /// The executor's own time for the step, excluding generation, in µs.
    pub overhead_us: u64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
}

/// A step to add to a run.
#[derive(Debug, Clone)]
pub struct NewStep {
    pub kind: StepKind,
    pub agent_id: Option<AgentId>,
    pub label: String,
    pub parent: Option<u32>,
    pub deps: Vec<u32>,
    pub input: Value,
    pub extra: crate::render::StepData,
    pub review: Option<Review>,
}

impl NewStep {
    /// A step running `agent` on `input`.
    pub fn agent(agent: &crate::spec::AgentSpec, input: Value) -> Self {
        Self {
            kind: StepKind::Agent,
            agent_id: Some(agent.id.clone()),
            label: format!("{} {}", agent.id, agent.name),
            parent: None,
            deps: Vec::new(),
            input,
            extra: crate::render::StepData::default(),
            review: None,
        }
    }

    /// A step waiting for a human to approve `question`.
    pub fn approval(question: &str) -> Self {
        Self {
            kind: StepKind::Approval,
            agent_id: None,
            label: question.to_owned(),
            parent: None,
            deps: Vec::new(),
            input: Value::Null,
            extra: crate::render::StepData::default(),
            review: None,
        }
    }

    pub fn after(mut self, deps: &[u32]) -> Self {
        self.deps.extend_from_slice(deps);
        self
    }
}

/// The key of an input field that takes another step's answer when the
/// step starts: `{"$answer_of": N}` becomes the final answer of step N's
/// review chain (see [`final_answer`]).
pub const ANSWER_OF: &str = "$answer_of";

/// The step holding the last answer of `step`'s review chain: the step
/// itself, or the last producer a reviewer sent it back to. `None` when
/// the run has no step `step`.
pub fn final_answer(steps: &[StepRecord], step: u32) -> Option<&StepRecord> {
    let mut current = steps.iter().find(|s| s.step == step)?;
    loop {
        let reviewer = steps.iter().find(|s| s.parent == Some(current.step) && s.review.as_ref().is_some_and(|r| r.role == ReviewRole::Reviewer));
        let Some(reviewer) = reviewer else { return Some(current) };
        let next = steps.iter().find(|s| s.parent == Some(reviewer.step) && s.review.as_ref().is_some_and(|r| r.role == ReviewRole::Producer));
        match next {
            Some(next) => current = next,
            None => return Some(current),
        }
    }
}

/// Whether the steps waiting for `step` in the run's own graph may start:
/// it is done or approved, and so is everything it started (its review
/// rounds and delegations), or that has ended for good.
pub fn settled(steps: &[StepRecord], step: u32) -> bool {
    let Some(record) = steps.iter().find(|s| s.step == step) else { return false };
    record.status.lets_dependents_run()
        && steps.iter().filter(|s| s.parent == Some(step)).all(|child| child.status.blocks_dependents_for_good() || settled(steps, child.step))
}

/// Replaces each top-level field of `input` that is `{"$answer_of": N}`
/// with the final answer of step N. Fails, naming the field, when that
/// step has no answer.
pub fn resolve_answers(input: &Value, steps: &[StepRecord]) -> Result<Value, String> {
    let mut input = input.clone();
    if let Value::Object(map) = &mut input {
        for (field, value) in map.iter_mut() {
            let Some(number) = value.get(ANSWER_OF).and_then(Value::as_u64) else { continue };
            let source = u32::try_from(number)
                .ok()
                .and_then(|n| final_answer(steps, n))
                .ok_or_else(|| format!("input {field:?} takes the answer of step {number}, which the run does not have"))?;
            *value = source.output.clone().ok_or_else(|| format!("input {field:?} takes the answer of step {number}, which has none yet"))?;
        }
    }
    Ok(input)
}
