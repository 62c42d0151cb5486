//! The swarm runtime: the 87 agents of `prompts/` as data ([`Roster`]), the
//! executor that renders an agent's prompt, calls a model against its output
//! schema and checks the answer ([`exec`]), the Lords' checked delegation,
//! durable runs with resume, dead letters and approvals ([`Runtime`]), and
//! RaptorBus, the runs' event stream and log ([`events`]).
//!
//! It knows nothing of where models and tools come from: [`exec::Ports`]
//! is implemented over `Core` by rf-core, and by scripted doubles in tests.

mod answer_text;
mod error;
pub mod events;
pub mod exec;
pub mod mcp_tools;
mod render;
pub mod run;
mod runtime;
pub mod spec;
mod store;
pub mod workflow;

pub use error::{AgentError, Result};
pub use events::{RunEvent, RunEventRecord};
pub use exec::{ExecLimits, McpAnswer, ModelAnswer, ModelRequest, PortError, Ports};
pub use mcp_tools::McpToolUse;
pub use render::{Citation, StepData};
pub use run::{NewStep, Review, ReviewRole, RunRecord, RunStatus, StepKind, StepRecord, StepStatus};
pub use runtime::{Evaluation, RunRequest, Runtime, RuntimeConfig};
pub use spec::{AgentSpec, Guild, Roster, SpecError, Tool};
pub use store::{NewRun, RUNS_FILE_NAME, RunStore, StepResult};
pub use workflow::{Workflow, WorkflowStep, Workflows};

/// The `prompts/` directory of this source tree (tests, and shells run from
/// a checkout); installed apps ship it beside the program.
pub fn source_prompts_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts")
}
