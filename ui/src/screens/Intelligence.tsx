// Intelligence: the signals the connectors gathered (a chart per series
// with its forecast band, change points and anomalies, and the reading in
// words), the sweep (Matrix tracks each competitor, Herald writes the
// digest) started from here with the team's notes, and the digests shared
// in the workspace, newest first, with the news they cite.
import { Anchor, Badge, Button, Card, Group, List, NativeSelect, Stack, Text, Textarea, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import type { Digest } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";
import { SignalChart } from "./SignalChart";
import { RunDetail, useRunTexts, useStartedRun } from "./Swarm";

const SIGNAL_COLOURS: Record<string, string> = { good: "green", bad: "red", watch: "yellow" };

function DigestCard({ digest }: { digest: Digest }) {
  return (
    <Card withBorder aria-label={`Digest ${digest.period}`}>
      <Text size="sm" c="dimmed">
        {digest.period}
        {digest.competitors.length > 0 ? ` · ${digest.competitors.join(", ")}` : ""}
      </Text>
      <Title order={4}>{digest.headline}</Title>
      <List mt="xs" spacing={4}>
        {digest.what_changed.map((c, i) => (
          <List.Item key={i} icon={<Badge color={SIGNAL_COLOURS[c.signal ?? ""] ?? "gray"}>{c.signal}</Badge>}>
            {c.change}
          </List.Item>
        ))}
      </List>
      {digest.what_it_means && <Text mt="xs">{digest.what_it_means}</Text>}
      {digest.next_steps.length > 0 && (
        <List mt="xs" type="ordered">
          {digest.next_steps.map((s, i) => (
            <List.Item key={i}>
              {s.action} ({s.owner}, by {s.by})
            </List.Item>
          ))}
        </List>
      )}
      {(digest.sources ?? []).length > 0 && (
        <>
          <Text size="sm" fw={600} mt="xs">
            Sources
          </Text>
          <List size="sm" spacing={2} aria-label="Sources">
            {(digest.sources ?? []).map((s, i) => (
              <List.Item key={i}>
                <Anchor href={s.url} target="_blank" rel="noreferrer">
                  {s.title}
                </Anchor>{" "}
                <Text span size="xs" c="dimmed">
                  {[s.subject, s.publisher, (s.published ?? "").slice(0, 10), `via ${s.service}`].filter(Boolean).join(" · ")}
                </Text>
              </List.Item>
            ))}
          </List>
        </>
      )}
    </Card>
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function Signals({ workspaceId }: { workspaceId: string }) {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: ["signals", workspaceId], queryFn: () => engine.signalsList(workspaceId) });
  const [chosen, setChosen] = useState<string | null>(null);
  const series = chosen ?? list.data?.[0]?.series ?? null;
  const chart = useQuery({ queryKey: ["signal", workspaceId, series], queryFn: () => engine.signalShow(workspaceId, series!), enabled: series !== null });
  const fetch = useMutation({
    mutationFn: () => engine.signalsFetch(workspaceId),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["signal"] }).then(() => queryClient.invalidateQueries({ queryKey: ["signals", workspaceId] })),
  });
  return (
    <Stack>
      <Title order={3}>Signals</Title>
      <Group align="flex-end">
        {(list.data ?? []).length > 0 && (
          <NativeSelect
            label="Series"
            value={series ?? ""}
            onChange={(e) => setChosen(e.currentTarget.value)}
            data={(list.data ?? []).map((s) => ({ value: s.series, label: `${s.series} (${s.points} days)` }))}
          />
        )}
        <Button variant="light" onClick={() => fetch.mutate()} loading={fetch.isPending}>
          Fetch signals now
        </Button>
      </Group>
      {fetch.data && (
        <Text size="sm" role="status">
          Recorded {plural(fetch.data.recorded, "value")}: {plural(fetch.data.calls_sent, "call")} sent, {fetch.data.cache_hits} answered from the cache.
          {fetch.data.problems.length > 0 ? ` Not fetched: ${fetch.data.problems.join("; ")}` : ""}
        </Text>
      )}
      <ErrorNotice error={fetch.error ?? list.error ?? chart.error} />
      {list.data?.length === 0 && <Text c="dimmed">No signals yet: add a news connector under Integrations, then fetch.</Text>}
      {chart.data && (
        <Card withBorder>
          <SignalChart chart={chart.data} />
          <List size="sm" mt="xs" aria-label="Reading">
            {chart.data.summary.map((line, i) => (
              <List.Item key={i}>{line}</List.Item>
            ))}
          </List>
        </Card>
      )}
    </Stack>
  );
}

export function Intelligence({ workspaceId }: { workspaceId: string }) {
  const engine = useEngine();
  const texts = useRunTexts();
  const workspace = useQuery({ queryKey: ["workspace", workspaceId], queryFn: () => engine.workspaceShow(workspaceId) });
  const [notes, setNotes] = useState("");
  const [run, changed] = useStartedRun(["workspace", workspaceId]);
  const sweep = useMutation({ mutationFn: () => engine.intelSweep(workspaceId, notes.trim() || null, null), onSuccess: changed });
  const digests = Object.values(workspace.data?.digests ?? {}).sort((a, b) => b.created_at - a.created_at);

  return (
    <Stack>
      <Title order={2}>Intelligence</Title>
      <Signals workspaceId={workspaceId} />
      <Title order={3}>Sweep</Title>
      <Textarea
        label="What the team saw (optional JSON notes)"
        description='{"period": "Week of 7 December", "competitors": [{"name": "...", "observations": [{"date": "2026-12-01", "note": "..."}]}], "changes": ["..."]}'
        value={notes}
        onChange={(e) => setNotes(e.currentTarget.value)}
        autosize
        minRows={3}
        styles={{ input: { fontFamily: "monospace" } }}
      />
      <Group>
        <Button onClick={() => sweep.mutate()} loading={sweep.isPending}>
          Run the sweep
        </Button>
      </Group>
      <ErrorNotice error={sweep.error ?? workspace.error} />
      {run && <RunDetail runId={run} texts={texts[run] ?? {}} onChanged={changed} />}
      <Title order={3}>Digests</Title>
      {digests.length === 0 && <Text c="dimmed">No digest shared yet: run the sweep, then approve its digest.</Text>}
      {digests.map((d) => (
        <DigestCard key={`${d.period}-${d.created_at}`} digest={d} />
      ))}
    </Stack>
  );
}
