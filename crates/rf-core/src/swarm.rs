//! The swarm on this Core: the roster of `prompts/`, the runs database
//! (`runs.sqlite3`) and the runtime whose model calls and tools are this
//! Core's (metered, under the privacy mode and budgets, one ledger row per
//! call with its agent and run).

use std::{path::PathBuf, sync::Arc};

use futures::future::BoxFuture;
use rf_agents::{Citation, ModelAnswer, ModelRequest, PortError, Ports};
use rf_domain::{AssetContent, BrandCodex, WorkspaceId};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use rf_agents::{
    AgentError, AgentSpec, Evaluation, ExecLimits, Guild, NewStep, Review, ReviewRole, Roster, RunEvent, RunEventRecord, RunRecord, RunRequest, RunStatus,
    Runtime, RuntimeConfig, StepKind, StepRecord, StepStatus, Tool,
};

use crate::{
    Core, CoreError, ErrorKind, Result,
    ai::{CallContext, ModelCall, Route},
};

/// Where the agents' files are: `RAPTORFLOW_PROMPTS_DIR`, else where a
/// package put them beside the program (Windows: `prompts` beside it; the
/// desktop's deb and rpm: `../lib/RaptorFlow/prompts`; macOS:
/// `../Resources/prompts`), else this source tree's. A program cargo built
/// (beside cargo's `.fingerprint` directory) reads the source tree's: the
/// copy a desktop build leaves beside it may be older.
pub fn default_prompts_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RAPTORFLOW_PROMPTS_DIR") {
        return PathBuf::from(dir);
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(bin) = exe.parent()
        && !(bin.join(".fingerprint").is_dir() && rf_agents::source_prompts_dir().join("agents").is_dir())
    {
        for candidate in [bin.join("prompts"), bin.join("../lib/RaptorFlow/prompts"), bin.join("../Resources/prompts"), bin.join("../share/raptorflow/prompts")]
        {
            if candidate.join("agents").is_dir() {
                return candidate;
            }
        }
    }
    rf_agents::source_prompts_dir()
}

/// The engine's side of the runtime.
/// Holds the Core weakly: the Core holds the runtime, which holds this.
#[derive(Debug, Clone)]
struct CorePorts {
    core: std::sync::Weak<crate::Inner>,
}

impl CorePorts {
    fn core(&self) -> Result<Core, PortError> {
        self.core.upgrade().map(|inner| Core { inner }).ok_or_else(|| PortError::permanent("the engine has shut down"))
    }
}

fn port_error(err: CoreError) -> PortError {
    let message = err.to_string();
    // The local model's constrained answer ran out of tokens (rf-local's words).
    if message.contains("before its JSON was complete") {
        return PortError::truncated(message);
    }
    let permanent = matches!(err.kind(), ErrorKind::InvalidInput | ErrorKind::NotFound | ErrorKind::BudgetExceeded | ErrorKind::PermissionDenied);
    PortError { message, permanent, truncated: false }
}

fn model_call(request: &ModelRequest) -> ModelCall {
    ModelCall {
        request: request.request.clone(),
        route: Route::Tier(request.tier),
        privacy: None,
        local_model: None,
        local_options: crate::ai::LlmOptions::default(),
        context: CallContext {
            workspace_id: request.workspace,
            user_id: request.user.clone(),
            agent_id: Some(request.agent.clone()),
            run_id: Some(request.run),
            caller: None,
        },
        // In runs, a step interrupted after its call was recorded answers
        // from the cache when it runs again: it is never paid for twice.
        use_cache: request.use_cache,
    }
}

impl Ports for CorePorts {
    fn generate<'a>(
        &'a self,
        request: ModelRequest,
        on_text: &'a mut (dyn FnMut(&str) + Send),
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<ModelAnswer, PortError>> {
        Box::pin(async move {
            let mut progress = |progress: crate::ai::AskProgress<'_>| {
                if let crate::ai::AskProgress::Text(text) = progress {
                    on_text(text);
                }
            };
            let outcome = self.core()?.ask(model_call(&request), &mut progress, cancel).await.map_err(port_error)?;
            let record = &outcome.metered.record;
            Ok(ModelAnswer {
                cancelled: outcome.metered.completion.stop_reason == crate::ai::StopReason::Cancelled,
                text: outcome.metered.completion.text,
                provider: record.provider.to_string(),
                model: record.model.to_string(),
                input_tokens: record.usage.input_tokens,
                output_tokens: record.usage.output_tokens,
                cost_micro_usd: record.cost_micro_usd,
                ledger_id: Some(outcome.metered.ledger_id),
            })
        })
    }

    fn max_cost<'a>(&'a self, request: &'a ModelRequest) -> BoxFuture<'a, Result<u64, PortError>> {
        Box::pin(async move { self.core()?.max_call_cost(&model_call(request)).await.map_err(port_error) })
    }

    fn codex_search<'a>(&'a self, workspace: Option<WorkspaceId>, query: &'a str, k: usize) -> BoxFuture<'a, Result<Vec<Citation>, PortError>> {
        Box::pin(async move {
            let Some(workspace) = workspace else { return Ok(Vec::new()) };
            if query.trim().is_empty() {
                return Ok(Vec::new());
            }
            let options = rf_codex::SearchOptions { k, ..rf_codex::SearchOptions::default() };
            let passages = self.core()?.codex_search(workspace, query, options, &mut |_| {}).await.map_err(port_error)?;
            Ok(passages.into_iter().zip(1u32..).map(|(p, n)| Citation { n, source: if p.title.is_empty() { p.path } else { p.title }, text: p.text }).collect())
        })
    }

    fn workspace_read(&self, workspace: Option<WorkspaceId>) -> BoxFuture<'_, Result<Value, PortError>> {
        Box::pin(async move {
            let Some(workspace) = workspace else { return Ok(json!({})) };
            let index = self.core()?.workspace(workspace).await.map_err(port_error)?;
            serde_json::to_value(&index.brand).map_err(|err| PortError::permanent(format!("the brand codex could not be read: {err}")))
        })
    }

    fn mcp_call<'a>(
        &'a self,
        server: &'a str,
        tool: &'a str,
        arguments: serde_json::Map<String, Value>,
    ) -> BoxFuture<'a, Result<rf_agents::McpAnswer, PortError>> {
        Box::pin(async move {
            let (text, is_error) = self.core()?.mcp_call(server, tool, arguments).await.map_err(port_error)?;
            Ok(rf_agents::McpAnswer { text, is_error })
        })
    }

    fn guardian_check<'a>(&'a self, workspace: Option<WorkspaceId>, asset: &'a Value) -> BoxFuture<'a, Result<Value, PortError>> {
        Box::pin(async move {
            // A writer's answer may carry its own notes beside the asset's fields.
            let mut asset = asset.clone();
            if let Value::Object(map) = &mut asset {
                map.remove("rationale");
            }
            let mut content: AssetContent = match serde_json::from_value(asset) {
                Ok(content) => content,
                Err(err) => return Ok(json!({"findings": [], "note": format!("Guardian could not read the asset: {err}")})),
            };
            let brand = match workspace {
                Some(workspace) => self.core()?.workspace(workspace).await.map_err(port_error)?.brand,
                None => BrandCodex::default(),
            };
            // Checked as it will be stored: with the brand's required disclaimers.
            crate::guardian::attach_disclaimers(&brand, &mut content).map_err(port_error)?;
            let findings = self.core()?.guardian_findings(&brand, &content).map_err(port_error)?;
            let verdict = rf_guardian::Verdict::of(&findings);
            Ok(json!({"verdict": verdict, "findings": findings}))
        })
    }
}

impl From<AgentError> for CoreError {
    fn from(err: AgentError) -> Self {
        CoreError::Agents(err)
    }
}

impl Core {
    /// Creates (does not start) a run of agent `agent` on `input` (its
    /// sample input when `None`, checked against its shape), for
    /// `workspace` (which must exist) with a budget in micro-dollars (0:
    /// none). [`Runtime::drive`] runs it.
    pub async fn create_agent_run(&self, agent: &str, workspace: Option<WorkspaceId>, input: Option<Value>, budget_micro_usd: u64) -> Result<rf_domain::RunId> {
        let swarm = self.swarm().await?;
        if let Some(workspace) = workspace {
            self.workspace(workspace).await?;
        }
        let input = match input {
            Some(input) => input,
            None => swarm.roster().get(agent).map(|a| a.sample_input.clone()).unwrap_or_default(),
        };
        let step = swarm.agent_step(agent, input)?;
        let title = step.label.clone();
        let request = RunRequest { workspace_id: workspace, user_id: self.user().id.clone(), title, budget_micro_usd, parallelism: None, steps: vec![step] };
        Ok(swarm.create(request).await?)
    }

    /// The swarm runtime of this Core, opened on first use: the roster is
    /// read from the prompts directory and checked, the runs database is
    /// opened (created if missing).
    pub async fn swarm(&self) -> Result<Runtime> {
        self.inner
            .swarm
            .get_or_try_init(|| async {
                let dir = self.inner.prompts_dir.clone();
                let roster = tokio::task::spawn_blocking(move || Roster::load(&dir))
                    .await
                    .map_err(|err| CoreError::Conflict { what: format!("loading the agents failed: {err}") })?
                    .map_err(AgentError::from)?;
                let store = rf_agents::RunStore::open(&self.inner.data_dir.join(rf_agents::RUNS_FILE_NAME)).await?;
                let ports: Arc<dyn Ports> = Arc::new(CorePorts { core: Arc::downgrade(&self.inner) });
                Ok::<_, CoreError>(Runtime::new(Arc::new(roster), store, ports, self.inner.swarm_config))
            })
            .await
            .cloned()
    }
}
