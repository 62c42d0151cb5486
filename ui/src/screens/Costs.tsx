// Costs: what a workspace's model calls cost, by day, model and agent, and
// its monthly budget with a warning as it nears the limit. Charts are
// @mantine/charts (Recharts underneath, styled like the rest of the app).
import { Alert, Button, Card, Group, Progress, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { BarChart } from "@mantine/charts";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import type { ReportLine } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";
import { formatCost } from "./Ask";

/** How much of the budget is spent, and how worried to be about it. */
export function budgetState(spent: number, limit: number): { percent: number; level: "none" | "ok" | "warn" | "over" } {
  if (limit <= 0) return { percent: 0, level: "none" };
  const percent = (100 * spent) / limit;
  return { percent, level: percent >= 100 ? "over" : percent >= 80 ? "warn" : "ok" };
}

const dollars = (line: ReportLine) => line.cost_micro_usd / 1_000_000;

export function Costs({ workspaceId }: { workspaceId: string }) {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const [month, setMonth] = useState<string>("");
  const costs = useQuery({ queryKey: ["costs", workspaceId, month], queryFn: () => engine.costShow(workspaceId, month === "" ? null : month) });
  const [budget, setBudget] = useState("");
  const save = useMutation({
    mutationFn: () => engine.budgetSet(workspaceId, budget),
    onSuccess: () => {
      setBudget("");
      void queryClient.invalidateQueries({ queryKey: ["costs", workspaceId] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const view = costs.data;
  const state = view ? budgetState(view.spent_this_month_micro_usd, view.budget_micro_usd) : null;

  return (
    <Stack maw={960}>
      <Title order={2}>Costs</Title>
      <ErrorNotice error={costs.error} />
      {view && state && (
        <Card withBorder>
          <Stack gap="xs">
            <Text fw={600}>Monthly budget</Text>
            {state.level === "none" ? (
              <Text c="dimmed">No budget set: cloud calls are not limited. Local models are always free.</Text>
            ) : (
              <>
                <Text>
                  {formatCost(view.spent_this_month_micro_usd)} of {formatCost(view.budget_micro_usd)} this month
                </Text>
                <Progress value={Math.min(state.percent, 100)} color={state.level === "ok" ? "blue" : state.level === "warn" ? "yellow" : "red"} aria-label="Budget spent" />
                {state.level === "warn" && <Alert color="yellow">Over 80 % of this month's budget is spent.</Alert>}
                {state.level === "over" && <Alert color="red">This month's budget is spent: cloud calls are refused until it is raised or the month ends.</Alert>}
              </>
            )}
            <form onSubmit={submit} aria-label="Set the budget">
              <Group align="flex-end">
                <TextInput label="Monthly budget in USD" placeholder="e.g. 50" value={budget} onChange={(e) => setBudget(e.currentTarget.value)} />
                <Button type="submit" loading={save.isPending} disabled={budget.trim() === ""}>
                  Set budget
                </Button>
              </Group>
            </form>
            <ErrorNotice error={save.error} />
          </Stack>
        </Card>
      )}
      <Group align="flex-end">
        <TextInput label="Month" type="month" value={month} onChange={(e) => setMonth(e.currentTarget.value)} description="Empty: every month" />
      </Group>
      {view && view.total.calls === 0 && <Text c="dimmed">No model calls yet{month ? " this month" : ""}. Ask a question or import into the Codex and they appear here.</Text>}
      {view && view.total.calls > 0 && (
        <>
          <Text role="status">
            {formatCost(view.total.cost_micro_usd)} in {view.total.calls} calls ({view.total.cache_hits} from the cache), {view.total.input_tokens} input and{" "}
            {view.total.output_tokens} output tokens
          </Text>
          <Chart title="By day" lines={view.by_day} />
          <Chart title="By model" lines={view.by_model} />
          <Chart title="By agent" lines={view.by_agent} />
        </>
      )}
    </Stack>
  );
}

function Chart({ title, lines }: { title: string; lines: ReportLine[] }) {
  const data = lines.map((line) => ({ key: line.key, dollars: dollars(line), calls: line.calls }));
  return (
    <Card withBorder aria-label={`Spend ${title.toLowerCase()}`}>
      <Text fw={600} mb="xs">
        {title}
      </Text>
      <BarChart h={180} data={data} dataKey="key" series={[{ name: "dollars", label: "USD", color: "blue.6" }]} valueFormatter={(v) => `$${v.toFixed(4)}`} />
      <Table mt="xs">
        <Table.Tbody>
          {lines.map((line) => (
            <Table.Tr key={line.key}>
              <Table.Td>{line.key}</Table.Td>
              <Table.Td>{formatCost(line.cost_micro_usd)}</Table.Td>
              <Table.Td>{line.calls} calls</Table.Td>
              <Table.Td>
                {line.input_tokens} in · {line.output_tokens} out
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}
