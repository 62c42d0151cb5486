// The fake backend's swarm: a few agents of the roster, and runs that play
// recorded events over `run-event` the way the engine sends them (a step
// added, started, its text streamed, finished with its cost; an approval
// that pauses the run; a step that dies and is retried).
import type { Commands } from "../api";
import type { AgentCard, RunEvent, RunEventRecord, RunRecord, RunStatus, RunView, StepRecord, StepStatus } from "../bindings";

type SwarmCommands = Pick<
  Commands,
  | "swarmRoster"
  | "runList"
  | "runShow"
  | "runEvents"
  | "agentRun"
  | "runResume"
  | "runCancel"
  | "runDecide"
  | "dlqList"
  | "dlqRetry"
  | "dlqDrop"
  | "onboardStart"
  | "campaignPlan"
  | "assetsGenerate"
  | "intelSweep"
  | "approvalsWaiting"
>;

/** A workflow's steps as the fake plays them: agent steps, then an approval. */
type Planned = { agent: string; label: string; deps: number[] } | { approval: string; deps: number[] };

const card = (id: string, name: string, guild: AgentCard["guild"], specialisation: string, extra: Partial<AgentCard>): AgentCard => ({
  id,
  name,
  guild,
  specialisation,
  lord: null,
  commands: [],
  tier: "local",
  tools: ["workspace.read"],
  sample_input: { company: "Fernhill Coffee Roasters", offer: "Coffee by subscription" },
  ...extra,
});

export const ROSTER: AgentCard[] = [
  card("LORD-002", "Cognition", "council", "Learns the business: decides what the Research guild must find out", { commands: ["research"] }),
  card("LORD-006", "Arbiter", "council", "The final reviewer", { commands: ["guardian"], tier: "standard" }),
  card("RES-001", "Market Researcher", "research", "Market size, segments and buying triggers", { lord: "LORD-002", tools: ["codex.search", "workspace.read"] }),
  card("MUSE-021", "X Post Writer", "muse", "Writes one X post and two alternatives", { lord: "LORD-004" }),
  card("MTX-011", "Threat Assessor", "matrix", "Rates a threat by likelihood and impact", { lord: "LORD-005" }),
  card("GRD-007", "Brand Voice Compliance Checker", "guardian", "Checks copy against the brand voice", { lord: "LORD-006", tools: ["workspace.read", "guardian.check"] }),
];

export interface FakeSwarm {
  commands: SwarmCommands;
  /** Agents whose next try fails (the step dies after one try here). */
  failing: Set<string>;
}

export function createFakeSwarm(
  emit: (record: RunEventRecord) => Promise<void>,
  answer: () => string,
  delayMs: () => number,
  campaignWorkspace: (campaignId: string) => string,
): FakeSwarm {
  const runs = new Map<string, RunView>();
  const logs = new Map<string, RunEventRecord[]>();
  const failing = new Set<string>(["GRD-007"]);
  const sleep = () => new Promise((resolve) => setTimeout(resolve, delayMs()));
  const clone = <T>(value: T): T => structuredClone(value);
  const notFound = (what: string, id: string) => ({ kind: "not_found", message: `there is no ${what} ${id}`, field: null });

  const log = async (run: RunView, event: RunEvent) => {
    const entries = logs.get(run.run.id) ?? [];
    const persisted = event.type !== "text";
    const record: RunEventRecord = { run_id: run.run.id, seq: persisted ? entries.length + 1 : 0, at_ms: Date.now(), event };
    if (persisted) entries.push(record);
    logs.set(run.run.id, entries);
    await emit(record);
  };
  const setStatus = async (run: RunView, status: RunStatus, reason: string | null) => {
    run.run.status = status;
    run.run.reason = reason;
    await log(run, { type: "status", status, reason });
  };
  const addStep = async (run: RunView, step: Partial<StepRecord> & Pick<StepRecord, "kind" | "label">) => {
    const record: StepRecord = {
      run_id: run.run.id,
      step: run.steps.length + 1,
      agent_id: null,
      parent: null,
      deps: [],
      status: "pending",
      attempts: 0,
      input: null,
      review: null,
      output: null,
      error: null,
      note: null,
      provider: null,
      model: null,
      calls: 0,
      input_tokens: 0,
      output_tokens: 0,
      cost_micro_usd: 0,
      ledger_ids: [],
      overhead_us: 0,
      started_ms: null,
      finished_ms: null,
      ...step,
    };
    run.steps.push(record);
    await log(run, { type: "step_added", step: record.step, kind: record.kind, agent: record.agent_id, label: record.label, parent: record.parent, deps: record.deps });
    return record;
  };
  const finish = async (run: RunView, step: StepRecord, status: StepStatus, error: string | null) => {
    step.status = status;
    step.error = error;
    await log(run, {
      type: "step_finished",
      step: step.step,
      status,
      error,
      provider: step.provider,
      model: step.model,
      input_tokens: step.input_tokens,
      output_tokens: step.output_tokens,
      cost_micro_usd: step.cost_micro_usd,
      ms: 40,
    });
  };

  /** Runs what can run, as the engine's driver does. */
  const drive = async (run: RunView) => {
    run.driven = true;
    try {
      await driveSteps(run);
    } finally {
      run.driven = false;
    }
  };
  const driveSteps = async (run: RunView) => {
    if (run.run.status !== "running") await setStatus(run, "running", null);
    for (const step of run.steps) {
      if (run.run.status === "cancelled") return;
      if (step.status !== "pending") continue;
      if (!step.deps.every((d) => ["done", "approved"].includes(run.steps[d - 1]!.status))) continue;
      if (step.kind === "approval") {
        step.status = "waiting";
        await log(run, { type: "approval_requested", step: step.step, question: step.label });
        await setStatus(run, "paused", `waiting for approval of step ${step.step}`);
        return;
      }
      step.status = "running";
      step.attempts += 1;
      step.provider = "local";
      step.model = "smollm2-135m-instruct-q4_1";
      await log(run, { type: "step_started", step: step.step, attempt: step.attempts });
      if (failing.has(step.agent_id ?? "")) {
        failing.delete(step.agent_id ?? "");
        await finish(run, step, "dead", "the model call failed: the local model crashed (fake)");
        await setStatus(run, "blocked", `step ${step.step} failed too often and is in the dead-letter list (\`run dlq list\`)`);
        return;
      }
      let text = "";
      for (const word of answer().split(" ")) {
        if ((run.run.status as RunStatus) === "cancelled") return;
        text += (text ? " " : "") + word;
        await log(run, { type: "text", step: step.step, text: (text === word ? "" : " ") + word });
        await sleep();
      }
      step.output = { text };
      step.input_tokens = 120;
      step.output_tokens = text.split(" ").length;
      step.cost_micro_usd = 0;
      step.calls = 1;
      await finish(run, step, "done", null);
      await log(run, { type: "cost", step: step.step, cost_micro_usd: 0, run_spent_micro_usd: run.run.spent_micro_usd });
    }
    const open = run.steps.some((s) => ["pending", "running", "waiting", "dead"].includes(s.status));
    if (!open) await setStatus(run, run.steps.some((s) => s.status === "rejected") ? "failed" : "finished", null);
  };

  const find = (runId: string) => {
    const run = runs.get(runId);
    if (!run) throw notFound("run", runId);
    return run;
  };
  const step = (run: RunView, number: number) => {
    const found = run.steps[number - 1];
    if (!found) throw notFound("step", `${run.run.id}/${number}`);
    return found;
  };

  const invalid = (message: string, field: string | null) => ({ kind: "invalid_input", message, field });
  const checkBudget = (budgetUsd: string | null) => {
    if (budgetUsd !== null && !/^\d+(\.\d{1,6})?$/.test(budgetUsd)) throw invalid(`budget: '${budgetUsd}' is not an amount such as 50 or 12.50`, "budget");
  };
  /** Creates a workflow run with its planned steps and starts driving it. */
  const startWorkflow = async (title: string, workspaceId: string | null, planned: Planned[]) => {
    const record: RunRecord = {
      id: crypto.randomUUID(),
      workspace_id: workspaceId,
      user_id: "me",
      title,
      status: "pending",
      reason: null,
      budget_micro_usd: 0,
      spent_micro_usd: 0,
      parallelism: 1,
      created_ms: Date.now(),
      updated_ms: Date.now(),
    };
    const run: RunView = { run: record, steps: [], driven: false };
    runs.set(record.id, run);
    for (const step of planned) {
      if ("approval" in step) await addStep(run, { kind: "approval", label: step.approval, deps: step.deps });
      else await addStep(run, { kind: "agent", agent_id: step.agent, label: step.label, deps: step.deps, input: {} });
    }
    run.driven = true;
    const started = clone(run);
    void drive(run);
    return started;
  };

  const commands: SwarmCommands = {
    async onboardStart(workspaceId, business, budgetUsd) {
      checkBudget(budgetUsd);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(business) as Record<string, unknown>;
      } catch {
        throw invalid("business: not JSON", "business");
      }
      for (const field of ["company", "description"]) {
        if (typeof parsed[field] !== "string" || (parsed[field] as string).trim() === "") throw invalid(`business: ${field}: is required`, "business");
      }
      return startWorkflow(`Onboarding: ${parsed.company as string}`, workspaceId, [
        { agent: "RES-001", label: "RES-001 Market Researcher", deps: [] },
        { agent: "LORD-002.brand-codex", label: "LORD-002.brand-codex Cognition", deps: [1] },
        { agent: "LORD-004", label: "LORD-004 Aesthete", deps: [2] },
        { approval: `Approve the brand codex drafted for ${parsed.company as string}?`, deps: [2, 3] },
      ]);
    },
    async campaignPlan(campaignId, budgetUsd) {
      checkBudget(budgetUsd);
      return startWorkflow(`Plan: ${campaignId}`, campaignWorkspace(campaignId), [
        { agent: "LORD-003", label: "LORD-003 Strategos (email)", deps: [] },
        { agent: "LORD-005", label: "LORD-005 Seer", deps: [1] },
        { approval: "Approve the plan with its moves and forecast?", deps: [1, 2] },
      ]);
    },
    async assetsGenerate(campaignId, moveId, budgetUsd) {
      checkBudget(budgetUsd);
      return startWorkflow(`Assets: ${moveId ?? campaignId}`, campaignWorkspace(campaignId), [
        { agent: "MUSE-001", label: "MUSE-001 Google Ads Copywriter", deps: [] },
        { agent: "GRD-001", label: "GRD-001 Google Ads Editorial Reviewer", deps: [1] },
        { approval: "Approve the assets written?", deps: [1, 2] },
      ]);
    },
    async intelSweep(workspaceId, notes, budgetUsd) {
      checkBudget(budgetUsd);
      if (notes !== null) {
        try {
          JSON.parse(notes);
        } catch {
          throw invalid("notes: not JSON", "notes");
        }
      }
      return startWorkflow("Intelligence sweep", workspaceId, [
        { agent: "MTX-001", label: "MTX-001 Competitor Tracker (Roastworks Direct)", deps: [] },
        { agent: "LORD-007", label: "LORD-007 Herald", deps: [1] },
        { approval: "Share the digest with the team?", deps: [2] },
      ]);
    },
    async approvalsWaiting(workspaceId) {
      return [...runs.values()]
        .filter((r) => workspaceId === null || r.run.workspace_id === workspaceId)
        .flatMap((r) => r.steps.filter((s) => s.status === "waiting"))
        .map(clone);
    },
    async swarmRoster() {
      return clone(ROSTER);
    },
    async runList(workspaceId) {
      return [...runs.values()].filter((r) => workspaceId === null || r.run.workspace_id === workspaceId).map((r) => clone(r.run)).reverse();
    },
    async runShow(runId) {
      return clone(find(runId));
    },
    async runEvents(runId, after) {
      find(runId);
      return clone((logs.get(runId) ?? []).filter((e) => e.seq > after));
    },
    async agentRun(agentId, workspaceId, input, budgetUsd) {
      const agent = ROSTER.find((a) => a.id === agentId);
      if (!agent) throw { kind: "invalid_input", message: `there is no agent "${agentId}"; \`raptorflow agents list\` shows them`, field: null };
      if (budgetUsd !== null && !/^\d+(\.\d{1,6})?$/.test(budgetUsd)) throw { kind: "invalid_input", message: `budget: '${budgetUsd}' is not an amount such as 50 or 12.50`, field: "budget" };
      if (input !== null && (typeof input !== "object" || Array.isArray(input))) throw { kind: "invalid_input", message: `the input for ${agentId} does not have the shape of its sample input`, field: null };
      const record: RunRecord = {
        id: crypto.randomUUID(),
        workspace_id: workspaceId,
        user_id: "me",
        title: `${agent.id} ${agent.name}`,
        status: "pending",
        reason: null,
        budget_micro_usd: budgetUsd ? Math.round(Number(budgetUsd) * 1_000_000) : 0,
        spent_micro_usd: 0,
        parallelism: 1,
        created_ms: Date.now(),
        updated_ms: Date.now(),
      };
      const run: RunView = { run: record, steps: [], driven: false };
      runs.set(record.id, run);
      await addStep(run, { kind: "agent", agent_id: agent.id, label: record.title, input: input ?? agent.sample_input });
      await addStep(run, { kind: "approval", label: "Use this answer?", deps: [1] });
      run.driven = true;
      const started = clone(run);
      void drive(run);
      return started;
    },
    async runResume(runId) {
      const run = find(runId);
      void drive(run);
      return clone(run);
    },
    async runCancel(runId) {
      const run = find(runId);
      if (!["pending", "running", "paused", "blocked"].includes(run.run.status)) throw { kind: "conflict", message: `run ${runId} is ${run.run.status} already`, field: null };
      for (const s of run.steps) if (["pending", "running", "waiting", "dead"].includes(s.status)) s.status = "cancelled";
      await setStatus(run, "cancelled", "cancelled by the user");
      return clone(run);
    },
    async runDecide(runId, number, approved, note) {
      const run = find(runId);
      const s = step(run, number);
      if (s.status !== "waiting") throw { kind: "conflict", message: `step ${number} of run ${runId} is ${s.status}, not waiting for approval`, field: null };
      s.status = approved ? "approved" : "rejected";
      s.note = note;
      await log(run, { type: "approval_decided", step: number, approved, note });
      if (approved) await drive(run);
      else await setStatus(run, "failed", `step ${number} (${s.label}) was rejected${note ? `: ${note}` : ""}`);
      return clone(run);
    },
    async dlqList() {
      return [...runs.values()].flatMap((r) => r.steps.filter((s) => s.status === "dead")).map(clone);
    },
    async dlqRetry(runId, number) {
      const run = find(runId);
      const s = step(run, number);
      if (s.status !== "dead") throw { kind: "conflict", message: `step ${number} of run ${runId} is ${s.status}, not in the dead-letter list`, field: null };
      s.status = "pending";
      s.error = null;
      void drive(run);
      return clone(run);
    },
    async dlqDrop(runId, number) {
      const run = find(runId);
      const s = step(run, number);
      if (s.status !== "dead") throw { kind: "conflict", message: `step ${number} of run ${runId} is ${s.status}, not in the dead-letter list`, field: null };
      s.status = "dropped";
      for (const other of run.steps) if (other.deps.includes(number) && other.status === "pending") other.status = "skipped";
      await setStatus(run, "finished", "1 steps were dropped or skipped");
      return clone(run);
    },
  };
  return { commands, failing };
}
