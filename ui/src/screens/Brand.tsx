// The brand codex editor: the facts every agent and Guardian work from.
// Lists are one entry per line.
import { Button, Group, Stack, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";

import type { BrandCodex } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";

const lines = (text: string) =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");

interface Form {
  company: string;
  offer: string;
  audiences: string;
  tone: string;
  dos: string;
  donts: string;
  banned_terms: string;
  required_disclaimers: string;
}

// Every field of the codex has a default in Rust, so the type allows any
// to be missing.
const toForm = (brand: BrandCodex): Form => ({
  company: brand.company ?? "",
  offer: brand.offer ?? "",
  audiences: (brand.audiences ?? []).join("\n"),
  tone: brand.voice?.tone ?? "",
  dos: (brand.voice?.dos ?? []).join("\n"),
  donts: (brand.voice?.donts ?? []).join("\n"),
  banned_terms: (brand.banned_terms ?? []).join("\n"),
  required_disclaimers: (brand.required_disclaimers ?? []).join("\n"),
});

export function Brand({ workspaceId }: { workspaceId: string }) {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const workspace = useQuery({ queryKey: ["workspace", workspaceId], queryFn: () => engine.workspaceShow(workspaceId) });
  const [form, setForm] = useState<Form | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (workspace.data && form === null) setForm(toForm(workspace.data.brand));
  }, [workspace.data, form]);
  const save = useMutation({
    mutationFn: (f: Form) => {
      const brand = workspace.data!.brand;
      return engine.brandUpdate(workspaceId, {
        ...brand,
        company: f.company.trim(),
        offer: f.offer.trim(),
        audiences: lines(f.audiences),
        voice: { tone: f.tone.trim(), dos: lines(f.dos), donts: lines(f.donts) },
        banned_terms: lines(f.banned_terms),
        required_disclaimers: lines(f.required_disclaimers),
      });
    },
    onSuccess: (index) => {
      setSaved(true);
      setForm(toForm(index.brand));
      queryClient.setQueryData(["workspace", workspaceId], index);
    },
  });

  if (workspace.error) return <ErrorNotice error={workspace.error} />;
  if (!form) return <Text c="dimmed">Loading the brand codex…</Text>;
  const field = (key: keyof Form, label: string, description?: string, multiline = false) => {
    const props = {
      label,
      description,
      value: form[key],
      onChange: (event: { currentTarget: { value: string } }) => {
        setSaved(false);
        setForm({ ...form, [key]: event.currentTarget.value });
      },
    };
    return multiline ? <Textarea {...props} autosize minRows={2} /> : <TextInput {...props} />;
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate(form);
  };

  return (
    <Stack maw={720}>
      <Title order={2}>Brand codex</Title>
      <Text c="dimmed">What every agent writes from and Guardian checks against. Lists take one entry per line.</Text>
      <form onSubmit={submit} aria-label="Brand codex">
        <Stack>
          {field("company", "Company", "The name as it should appear in copy")}
          {field("offer", "Offer", "What you sell, in a sentence or two", true)}
          {field("audiences", "Audiences", "One audience or customer profile per line", true)}
          {field("tone", "Voice", "How the brand sounds, e.g. warm, plain-spoken, a little wry")}
          <Group grow align="flex-start">
            {field("dos", "Do", "One per line", true)}
            {field("donts", "Don't", "One per line", true)}
          </Group>
          {field("banned_terms", "Banned terms", "Words and phrases that must never appear in copy; Guardian blocks them", true)}
          {field("required_disclaimers", "Required disclaimers", "Lines every asset must carry; Guardian blocks assets without them", true)}
          <ErrorNotice error={save.error} />
          <Group>
            <Button type="submit" loading={save.isPending}>
              Save brand codex
            </Button>
            {saved && (
              <Text role="status" c="green">
                Saved
              </Text>
            )}
          </Group>
        </Stack>
      </form>
    </Stack>
  );
}
