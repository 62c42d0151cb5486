// Onboarding: the intake form (the business file's fields), then the live
// swarm — each Lord's and agent's step, its streamed text and cost — and
// the approval of the drafted brand codex, which writes it into the
// workspace.
import { Button, Checkbox, Group, Stack, Stepper, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";
import { RunDetail, useRunTexts, useStartedRun } from "./Swarm";

/** The channels the intake knows, as the business file spells them. */
const INTAKE_CHANNELS: { value: string; label: string }[] = [
  { value: "google_ads", label: "Google Ads" },
  { value: "meta_ads", label: "Meta ads" },
  { value: "linkedin", label: "LinkedIn" },
  { value: "x", label: "X" },
  { value: "email", label: "Email" },
  { value: "blog", label: "Blog" },
  { value: "video", label: "Video" },
];

const lines = (text: string) =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);

/** The business file built from the form: only what was filled in. */
export function businessJson(form: Record<string, string>, channels: string[]): string {
  const business: Record<string, unknown> = { company: form.company?.trim() ?? "", description: form.description?.trim() ?? "" };
  if (form.website?.trim()) business.website = form.website.trim();
  for (const key of ["audiences", "competitors", "goals"]) {
    const items = lines(form[key] ?? "");
    if (items.length > 0) business[key] = items;
  }
  if (form.voice?.trim()) business.voice = form.voice.trim();
  if (channels.length > 0) business.channels = channels;
  const budget = form.budget?.trim();
  if (budget) business.monthly_budget_usd = Number.isNaN(Number(budget)) ? budget : Number(budget);
  return JSON.stringify(business);
}

export function Onboarding({ workspaceId }: { workspaceId: string }) {
  const engine = useEngine();
  const texts = useRunTexts();
  const [form, setForm] = useState<Record<string, string>>({});
  const [channels, setChannels] = useState<string[]>([]);
  const [run, changed, setRun] = useStartedRun();
  const field = (key: string) => ({ value: form[key] ?? "", onChange: (e: { currentTarget: { value: string } }) => setForm({ ...form, [key]: e.currentTarget.value }) });

  const start = useMutation({ mutationFn: () => engine.onboardStart(workspaceId, businessJson(form, channels), form.budget_usd?.trim() || null), onSuccess: changed });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate();
  };

  return (
    <Stack>
      <Title order={2}>Onboarding</Title>
      <Stepper active={run ? 1 : 0} size="sm">
        <Stepper.Step label="The business" description="What the swarm starts from" />
        <Stepper.Step label="The swarm at work" description="Research, the brand codex, your approval" />
      </Stepper>
      {!run && (
        <form onSubmit={submit} aria-label="Business intake">
          <Stack>
            <TextInput label="Company" required {...field("company")} />
            <Textarea label="What it sells, and to whom" required autosize minRows={2} {...field("description")} />
            <TextInput label="Website" placeholder="https://" {...field("website")} />
            <Textarea label="Audiences (one per line)" autosize minRows={2} {...field("audiences")} />
            <Textarea label="Competitors (one per line)" autosize minRows={2} {...field("competitors")} />
            <Textarea label="Goals (one per line)" autosize minRows={2} {...field("goals")} />
            <TextInput label="Voice" placeholder="Warm, plain-spoken" {...field("voice")} />
            <Checkbox.Group label="Channels" value={channels} onChange={setChannels}>
              <Group mt="xs">
                {INTAKE_CHANNELS.map((c) => (
                  <Checkbox key={c.value} value={c.value} label={c.label} />
                ))}
              </Group>
            </Checkbox.Group>
            <Group align="flex-end">
              <TextInput label="Monthly budget (USD)" {...field("budget")} w={200} />
              <TextInput label="Spend limit for this run (USD, optional)" {...field("budget_usd")} w={260} />
            </Group>
            <Text size="sm" c="dimmed">
              Runs on this machine's local model unless you configured a cloud one. Every claim in the draft cites the field or document it came from; nothing is written until you approve.
            </Text>
            <Group>
              <Button type="submit" loading={start.isPending}>
                Start onboarding
              </Button>
            </Group>
            <ErrorNotice error={start.error} />
          </Stack>
        </form>
      )}
      {run && (
        <>
          <RunDetail runId={run} texts={texts[run] ?? {}} onChanged={changed} />
          <Group>
            <Button variant="subtle" onClick={() => setRun(null)}>
              Start another onboarding
            </Button>
          </Group>
        </>
      )}
    </Stack>
  );
}
