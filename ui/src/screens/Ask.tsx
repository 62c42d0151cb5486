// Ask: a question to the local model or, where the user set one up, a cloud
// model by tier; the answer streams in, can be stopped, and says which
// model gave it and what it cost.
import { Button, Card, Group, NativeSelect, Stack, Text, Textarea, Title } from "@mantine/core";
import { Channel } from "@tauri-apps/api/core";
import { useMutation } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";

import type { AskAnswer, AskChunk, Tier } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";

const TIERS: { value: Tier; label: string }[] = [
  { value: "local", label: "Local model (private, free)" },
  { value: "fast", label: "Fast cloud model" },
  { value: "standard", label: "Standard cloud model" },
  { value: "premium", label: "Premium cloud model" },
];

/** Micro-dollars as dollars, with enough digits to show a small call. */
export function formatCost(microUsd: number): string {
  if (microUsd === 0) return "$0";
  const usd = microUsd / 1_000_000;
  return usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(6)}`;
}

export function Ask({ workspaceId }: { workspaceId: string | null }) {
  const engine = useEngine();
  const [prompt, setPrompt] = useState("");
  const [tier, setTier] = useState<Tier>("local");
  const [text, setText] = useState("");
  const [waiting, setWaiting] = useState<number | null>(null);
  const request = useRef<string | null>(null);
  const ask = useMutation({
    mutationFn: (): Promise<AskAnswer> => {
      const id = crypto.randomUUID();
      request.current = id;
      setText("");
      setWaiting(null);
      const channel = new Channel<AskChunk>();
      channel.onmessage = (chunk) => {
        if (chunk.kind === "queued") setWaiting(chunk.position);
        else {
          setWaiting(null);
          setText((sofar) => sofar + chunk.text);
        }
      };
      return engine.ask(id, { prompt, tier, workspace_id: workspaceId }, channel);
    },
    onSettled: () => {
      request.current = null;
      setWaiting(null);
    },
  });
  const stop = () => {
    if (request.current) void engine.askStop(request.current);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    ask.mutate();
  };
  const answer = ask.data;

  return (
    <Stack maw={760}>
      <Title order={2}>Ask</Title>
      <form onSubmit={submit} aria-label="Ask form">
        <Stack>
          <Textarea label="Question" value={prompt} onChange={(e) => setPrompt(e.currentTarget.value)} autosize minRows={3} />
          <Group align="flex-end">
            <NativeSelect label="Model" value={tier} onChange={(e) => setTier(e.currentTarget.value as Tier)} data={TIERS} />
            <Button type="submit" loading={ask.isPending}>
              Ask
            </Button>
            <Button color="red" variant="light" onClick={stop} disabled={!ask.isPending}>
              Stop
            </Button>
          </Group>
        </Stack>
      </form>
      <ErrorNotice error={ask.error} />
      {waiting !== null && <Text c="dimmed">Waiting for the local model: {waiting} ahead.</Text>}
      {(text || ask.isPending) && (
        <Card withBorder aria-label="Answer" aria-busy={ask.isPending}>
          <Text style={{ whiteSpace: "pre-wrap" }}>{text || "…"}</Text>
        </Card>
      )}
      {answer && (
        <Text size="sm" c="dimmed" role="status">
          {answer.cancelled ? "Stopped. " : ""}
          {answer.provider} {answer.model} · {answer.input_tokens} in, {answer.output_tokens} out · {formatCost(answer.cost_micro_usd)}
          {answer.from_cache ? " (from the cache)" : ""}
        </Text>
      )}
    </Stack>
  );
}
