//! RaptorBus: what runs report while they work. Every event but the
//! streamed text is written to the run's event log first (so a window
//! opened later, or `run watch` in another process, can replay it), then
//! sent to the in-process subscribers.

use rf_domain::{AgentId, RunId};
use serde::{Deserialize, Serialize};

use crate::run::{RunStatus, StepKind, StepStatus};

/// One thing that happened in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    /// The run's status changed (with why, when it stopped or waits).
    Status { status: RunStatus, reason: Option<String> },
    /// A step was added to the run's graph.
    StepAdded { step: u32, kind: StepKind, agent: Option<AgentId>, label: String, parent: Option<u32>, deps: Vec<u32> },
    /// A step started (its `attempt`th try).
    StepStarted { step: u32, attempt: u32 },
    /// A piece of a step's answer as the model writes it (not persisted).
    Text { step: u32, text: String },
    /// The runtime ran a tool of the agent's allow-list for it.
    ToolUsed { step: u32, tool: String, detail: String },
    /// A model answer did not match the schema; the runtime asked again.
    Repair { step: u32, problems: Vec<String> },
    /// A step's status changed after it ran (done, failed, dead...).
    StepFinished {
        step: u32,
        status: StepStatus,
        error: Option<String>,
        provider: Option<String>,
        model: Option<String>,
        input_tokens: u64,
        output_tokens: u64,
        cost_micro_usd: u64,
        ms: u64,
    },
    /// A Lord's delegation that the runtime refused, and why.
    DelegationRefused { step: u32, agent: String, reason: String },
    /// A step waits for a human.
    ApprovalRequested { step: u32, question: String },
    /// A human decided.
    ApprovalDecided { step: u32, approved: bool, note: Option<String> },
    /// A review loop ended: approved, or stopped at its bound.
    ReviewEnded { step: u32, approved: bool, rounds: u32, note: String },
    /// What the run has spent so far.
    Cost { step: u32, cost_micro_usd: u64, run_spent_micro_usd: u64 },
}

impl RunEvent {
    /// Whether the event goes to the log (streamed text does not).
    pub fn persisted(&self) -> bool {
        !matches!(self, RunEvent::Text { .. })
    }
}

/// An event of a run, numbered in its log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RunEventRecord {
    pub run_id: RunId,
    /// The position in the run's log (1, 2...); 0 for streamed text.
    pub seq: u32,
    pub at_ms: i64,
    pub event: RunEvent,
}
