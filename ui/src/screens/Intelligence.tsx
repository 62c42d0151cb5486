// Intelligence: the sweep (Matrix tracks each competitor, Herald writes
// the digest) started from here with the team's notes, and the digests
// shared in the workspace, newest first.
import { Badge, Button, Card, Group, List, Stack, Text, Textarea, Title } from "@mantine/core";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";

import type { Digest } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";
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
    </Card>
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
