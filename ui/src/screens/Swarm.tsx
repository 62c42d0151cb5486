// Swarm: the council of seven Lords and its four guilds, runs with their
// step graphs updating live (the running step's text streams in), what each
// step and run cost, approvals, the dead-letter list, cancel.
import { Badge, Button, Card, Code, Group, NativeSelect, Stack, Table, Tabs, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState, type FormEvent } from "react";

import type { AgentCard, Guild, RunEventRecord, RunStatus, RunView, StepRecord, StepStatus } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";
import { formatCost } from "./Ask";

const GUILDS: { value: Guild; label: string }[] = [
  { value: "council", label: "Council of Lords" },
  { value: "research", label: "Research" },
  { value: "muse", label: "Muse" },
  { value: "matrix", label: "Matrix" },
  { value: "guardian", label: "Guardian" },
];

const RUN_COLOURS: Record<RunStatus, string> = {
  pending: "gray",
  running: "blue",
  paused: "yellow",
  blocked: "orange",
  finished: "green",
  failed: "red",
  cancelled: "gray",
  stopped: "orange",
};

const STEP_COLOURS: Record<StepStatus, string> = {
  pending: "gray",
  running: "blue",
  done: "green",
  failed: "orange",
  dead: "red",
  waiting: "yellow",
  approved: "green",
  rejected: "red",
  cancelled: "gray",
  skipped: "gray",
  dropped: "gray",
};

/** The roster, by guild, with a form to run one agent. */
function Roster({ workspaceId, onStarted }: { workspaceId: string | null; onStarted: (run: RunView) => void }) {
  const engine = useEngine();
  const roster = useQuery({ queryKey: ["swarm-roster"], queryFn: () => engine.swarmRoster() });
  const [agent, setAgent] = useState<string>("");
  const [input, setInput] = useState("");
  const [budget, setBudget] = useState("");
  const chosen = roster.data?.find((a) => a.id === agent);
  useEffect(() => {
    if (chosen) setInput(JSON.stringify(chosen.sample_input, null, 2));
  }, [chosen]);
  const start = useMutation({
    mutationFn: () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(input);
      } catch (err) {
        throw { kind: "invalid_input", message: `input: not JSON (${String(err)})`, field: "input" };
      }
      return engine.agentRun(agent, workspaceId, parsed as never, budget.trim() || null);
    },
    onSuccess: onStarted,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate();
  };
  const byGuild = (guild: Guild): AgentCard[] => (roster.data ?? []).filter((a) => a.guild === guild);

  return (
    <Stack>
      <ErrorNotice error={roster.error} />
      <Tabs defaultValue="council" aria-label="Guilds">
        <Tabs.List>
          {GUILDS.map((g) => (
            <Tabs.Tab key={g.value} value={g.value}>
              {g.label} ({byGuild(g.value).length})
            </Tabs.Tab>
          ))}
        </Tabs.List>
        {GUILDS.map((g) => (
          <Tabs.Panel key={g.value} value={g.value} pt="xs">
            <Table striped aria-label={`${g.label} agents`}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Agent</Table.Th>
                  <Table.Th>Job</Table.Th>
                  <Table.Th>{g.value === "council" ? "Commands" : "Lord"}</Table.Th>
                  <Table.Th>Tools</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {byGuild(g.value).map((a) => (
                  <Table.Tr key={a.id}>
                    <Table.Td>
                      <Text fw={600} style={{ whiteSpace: "nowrap" }}>
                        {a.id}
                      </Text>
                      <Text size="sm">{a.name}</Text>
                    </Table.Td>
                    <Table.Td>{a.specialisation}</Table.Td>
                    <Table.Td>{g.value === "council" ? a.commands.join(", ") : a.lord}</Table.Td>
                    <Table.Td>{a.tools.join(", ")}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Tabs.Panel>
        ))}
      </Tabs>
      <form onSubmit={submit} aria-label="Run an agent">
        <Stack>
          <Group align="flex-end">
            <NativeSelect
              label="Agent"
              value={agent}
              onChange={(e) => setAgent(e.currentTarget.value)}
              data={[{ value: "", label: "Choose an agent…" }, ...(roster.data ?? []).map((a) => ({ value: a.id, label: `${a.id} ${a.name}` }))]}
            />
            <TextInput label="Budget (USD, optional)" value={budget} onChange={(e) => setBudget(e.currentTarget.value)} placeholder="0.50" w={160} />
            <Button type="submit" disabled={!agent} loading={start.isPending}>
              Start run
            </Button>
          </Group>
          {chosen && <Textarea label="Input (JSON, shaped like the sample)" value={input} onChange={(e) => setInput(e.currentTarget.value)} autosize minRows={4} maxRows={14} styles={{ input: { fontFamily: "monospace" } }} />}
        </Stack>
      </form>
      <ErrorNotice error={start.error} />
    </Stack>
  );
}

/** One step of a run, with what a human can do about it. */
export function Step({ step, text, onChanged, name }: { step: StepRecord; text: string | undefined; onChanged: (run: RunView) => void; name?: string }) {
  const engine = useEngine();
  const [note, setNote] = useState("");
  const decide = useMutation({ mutationFn: (approved: boolean) => engine.runDecide(step.run_id, step.step, approved, note || null), onSuccess: onChanged });
  const retry = useMutation({ mutationFn: () => engine.dlqRetry(step.run_id, step.step), onSuccess: onChanged });
  const drop = useMutation({ mutationFn: () => engine.dlqDrop(step.run_id, step.step), onSuccess: onChanged });
  return (
    <Card withBorder padding="sm" aria-label={name ?? `Step ${step.step}`}>
      <Group justify="space-between">
        <Group gap="xs">
          <Text fw={600}>{step.step}.</Text>
          <Text>{step.label}</Text>
          <Badge color={STEP_COLOURS[step.status]}>{step.status}</Badge>
          {step.deps.length > 0 && (
            <Text size="sm" c="dimmed">
              after {step.deps.join(", ")}
            </Text>
          )}
        </Group>
        <Text size="sm" c="dimmed">
          {step.model ? `${step.model} · ` : ""}
          {step.input_tokens + step.output_tokens} tokens · {formatCost(step.cost_micro_usd)}
          {step.attempts > 1 ? ` · ${step.attempts} tries` : ""}
        </Text>
      </Group>
      {step.status === "running" && text && (
        <Code block aria-label={`Step ${step.step} answer so far`} mt="xs">
          {text}
        </Code>
      )}
      {step.error && (
        <Text size="sm" c="red" mt="xs">
          {step.error}
        </Text>
      )}
      {step.output !== null && step.status === "done" && (
        <Code block mt="xs" style={{ maxHeight: 160, overflow: "auto" }}>
          {JSON.stringify(step.output, null, 2)}
        </Code>
      )}
      {step.status === "waiting" && (
        <Group mt="xs" align="flex-end">
          <TextInput label="Note" value={note} onChange={(e) => setNote(e.currentTarget.value)} />
          <Button onClick={() => decide.mutate(true)} loading={decide.isPending}>
            Approve
          </Button>
          <Button color="red" variant="light" onClick={() => decide.mutate(false)} loading={decide.isPending}>
            Reject
          </Button>
        </Group>
      )}
      {step.status === "dead" && (
        <Group mt="xs">
          <Button onClick={() => retry.mutate()} loading={retry.isPending}>
            Retry
          </Button>
          <Button color="gray" variant="light" onClick={() => drop.mutate()} loading={drop.isPending}>
            Drop
          </Button>
        </Group>
      )}
      <ErrorNotice error={decide.error ?? retry.error ?? drop.error} />
    </Card>
  );
}

/** A run's step graph, updating as its events arrive. */
export function RunDetail({ runId, texts, onChanged }: { runId: string; texts: Record<number, string>; onChanged: (run: RunView) => void }) {
  const engine = useEngine();
  const run = useQuery({ queryKey: ["run", runId], queryFn: () => engine.runShow(runId) });
  const cancel = useMutation({ mutationFn: () => engine.runCancel(runId), onSuccess: onChanged });
  const resume = useMutation({ mutationFn: () => engine.runResume(runId), onSuccess: onChanged });
  if (!run.data) return <ErrorNotice error={run.error} />;
  const { run: record, steps } = run.data;
  const open = record.status === "pending" || record.status === "running" || record.status === "paused" || record.status === "blocked";
  return (
    <Stack aria-label="Run">
      <Group justify="space-between">
        <Group>
          <Title order={3}>{record.title}</Title>
          <Badge color={RUN_COLOURS[record.status]} aria-label="Run status">
            {record.status}
          </Badge>
        </Group>
        <Group>
          <Text role="status">
            Spent {formatCost(record.spent_micro_usd)}
            {record.budget_micro_usd > 0 ? ` of ${formatCost(record.budget_micro_usd)}` : ""}
          </Text>
          {(record.status === "blocked" || ((record.status === "running" || record.status === "pending") && !run.data.driven)) && (
            <Button variant="light" onClick={() => resume.mutate()} loading={resume.isPending}>
              Resume
            </Button>
          )}
          <Button color="red" variant="light" onClick={() => cancel.mutate()} disabled={!open} loading={cancel.isPending}>
            Cancel run
          </Button>
        </Group>
      </Group>
      {record.reason && <Text c="dimmed">{record.reason}</Text>}
      <ErrorNotice error={cancel.error ?? resume.error} />
      {steps.map((step) => (
        <Step key={step.step} step={step} text={texts[step.step]} onChanged={onChanged} />
      ))}
    </Stack>
  );
}

/**
 * Follows the swarm's run events: the streamed text of running steps, by
 * run and step; the runs, steps and approvals shown are re-read as they change.
 */
export function useRunTexts(): Record<string, Record<number, string>> {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const [texts, setTexts] = useState<Record<string, Record<number, string>>>({});

  useEffect(() => {
    let unsubscribe: (() => void) | undefined;
    let cancelled = false;
    void engine
      .onRunEvent((record: RunEventRecord) => {
        const event = record.event;
        if (event.type === "text") {
          setTexts((all) => {
            const forRun = all[record.run_id] ?? {};
            return { ...all, [record.run_id]: { ...forRun, [event.step]: (forRun[event.step] ?? "") + event.text } };
          });
          return;
        }
        if (event.type === "step_started") {
          setTexts((all) => ({ ...all, [record.run_id]: { ...(all[record.run_id] ?? {}), [event.step]: "" } }));
        }
        void queryClient.invalidateQueries({ queryKey: ["run", record.run_id] });
        if (event.type === "status" || event.type === "step_added" || event.type === "cost") void queryClient.invalidateQueries({ queryKey: ["runs"] });
        if (event.type === "step_finished") void queryClient.invalidateQueries({ queryKey: ["dlq"] });
        if (event.type === "approval_requested" || event.type === "approval_decided" || event.type === "status") void queryClient.invalidateQueries({ queryKey: ["approvals"] });
      })
      .then((stop) => {
        if (cancelled) stop();
        else unsubscribe = stop;
      });
    return () => {
      cancelled = true;
      unsubscribe?.();
    };
  }, [engine, queryClient]);
  return texts;
}

/**
 * A run a screen started and follows: the run shown, the callback for its
 * changes (it seeds the run's view and re-reads the runs, the approvals and
 * `alsoRefresh`), and a way to put the run away.
 */
export function useStartedRun(alsoRefresh: unknown[] | null = null): [string | null, (view: RunView) => void, (run: string | null) => void] {
  const queryClient = useQueryClient();
  const [run, setRun] = useState<string | null>(null);
  const changed = (view: RunView) => {
    setRun(view.run.id);
    queryClient.setQueryData(["run", view.run.id], view);
    void queryClient.invalidateQueries({ queryKey: ["runs"] });
    void queryClient.invalidateQueries({ queryKey: ["approvals"] });
    if (alsoRefresh) void queryClient.invalidateQueries({ queryKey: alsoRefresh });
  };
  return [run, changed, setRun];
}

/** Every approval waiting for a person, across runs: approve or reject here. */
export function ApprovalsInbox({ workspaceId, onChanged }: { workspaceId: string | null; onChanged: (run: RunView) => void }) {
  const engine = useEngine();
  const waiting = useQuery({ queryKey: ["approvals", workspaceId], queryFn: () => engine.approvalsWaiting(workspaceId) });
  return (
    <Stack aria-label="Approvals inbox" gap="xs">
      <Title order={3}>Approvals</Title>
      <ErrorNotice error={waiting.error} />
      {waiting.data && waiting.data.length === 0 && <Text c="dimmed">Nothing waits for you.</Text>}
      {waiting.data?.map((step) => (
        <Step key={`${step.run_id}-${step.step}`} step={step} text={undefined} onChanged={onChanged} name={`Waiting: ${step.label}`} />
      ))}
    </Stack>
  );
}

export function Swarm({ workspaceId }: { workspaceId: string | null }) {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const runs = useQuery({ queryKey: ["runs", workspaceId], queryFn: () => engine.runList(workspaceId) });
  const dead = useQuery({ queryKey: ["dlq"], queryFn: () => engine.dlqList() });
  const [selected, setSelected] = useState<string | null>(null);
  const texts = useRunTexts();

  const changed = (run: RunView) => {
    setSelected(run.run.id);
    queryClient.setQueryData(["run", run.run.id], run);
    void queryClient.invalidateQueries({ queryKey: ["runs"] });
    void queryClient.invalidateQueries({ queryKey: ["dlq"] });
    void queryClient.invalidateQueries({ queryKey: ["approvals"] });
  };
  const runTexts = useMemo(() => (selected ? (texts[selected] ?? {}) : {}), [texts, selected]);

  return (
    <Stack>
      <Title order={2}>Swarm</Title>
      <ApprovalsInbox workspaceId={workspaceId} onChanged={changed} />
      <Roster workspaceId={workspaceId} onStarted={changed} />
      <Title order={3}>Runs</Title>
      <ErrorNotice error={runs.error} />
      {runs.data && runs.data.length === 0 && <Text c="dimmed">No runs yet: start one above.</Text>}
      {runs.data && runs.data.length > 0 && (
        <Table highlightOnHover aria-label="Runs">
          <Table.Tbody>
            {runs.data.map((r) => (
              <Table.Tr key={r.id} aria-selected={r.id === selected}>
                <Table.Td>
                  <Button variant="subtle" onClick={() => setSelected(r.id)}>
                    {r.title}
                  </Button>
                </Table.Td>
                <Table.Td>
                  <Badge color={RUN_COLOURS[r.status]}>{r.status}</Badge>
                </Table.Td>
                <Table.Td>{formatCost(r.spent_micro_usd)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {selected && <RunDetail runId={selected} texts={runTexts} onChanged={changed} />}
      <Title order={3}>Dead letters</Title>
      {dead.data && dead.data.length === 0 && <Text c="dimmed">None: every step that failed was retried successfully.</Text>}
      {dead.data?.map((s) => (
        <Card key={`${s.run_id}-${s.step}`} withBorder padding="xs" aria-label={`Dead letter ${s.label}`}>
          <Group justify="space-between">
            <Button variant="subtle" onClick={() => setSelected(s.run_id)}>
              {s.label} (step {s.step})
            </Button>
            <Text size="sm" c="red">
              {s.error}
            </Text>
          </Group>
        </Card>
      ))}
    </Stack>
  );
}
