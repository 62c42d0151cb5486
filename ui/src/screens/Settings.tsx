// Settings: theme, privacy mode, cloud providers with their keys (which go
// to the OS keyring and are never shown again), the local models' threads,
// and the open interfaces (the local API, MCP servers).
import {
  Badge,
  Button,
  Card,
  Group,
  NativeSelect,
  NumberInput,
  PasswordInput,
  SegmentedControl,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  useMantineColorScheme,
  type MantineColorScheme,
} from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import type { PrivacyMode, ProviderRow, SettingsView, Tier } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";
import { fieldError, notice } from "../errors";
import { LocalApi, McpServers } from "./SettingsInterfaces";

const PRIVACY: { value: PrivacyMode; label: string; text: string }[] = [
  { value: "offline-only", label: "Offline only", text: "Local models only; nothing leaves this machine." },
  { value: "local-preferred", label: "Local preferred", text: "Local models, unless a step needs a stronger model and a cloud provider fits the budget." },
  { value: "cloud-allowed", label: "Cloud allowed", text: "The configured cloud model of each step's tier; local where a step asks for it." },
];

export function Settings() {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const settings = useQuery({ queryKey: ["settings"], queryFn: () => engine.settingsShow() });
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  const store = (view: SettingsView) => queryClient.setQueryData(["settings"], view);
  const privacy = useMutation({ mutationFn: (mode: PrivacyMode) => engine.privacySet(mode), onSuccess: store });

  return (
    <Stack maw={860}>
      <Title order={2}>Settings</Title>
      <Card withBorder>
        <Stack gap="xs">
          <Text fw={600}>Theme</Text>
          <SegmentedControl
            aria-label="Theme"
            value={colorScheme}
            onChange={(value) => setColorScheme(value as MantineColorScheme)}
            data={[
              { value: "light", label: "Light" },
              { value: "dark", label: "Dark" },
              { value: "auto", label: "System" },
            ]}
          />
        </Stack>
      </Card>
      <ErrorNotice error={settings.error} />
      {settings.data && (
        <Card withBorder>
          <Stack gap="xs">
            <Text fw={600}>Privacy</Text>
            <SegmentedControl
              aria-label="Privacy mode"
              value={settings.data.privacy}
              onChange={(value) => privacy.mutate(value as PrivacyMode)}
              data={PRIVACY.map(({ value, label }) => ({ value, label }))}
            />
            <Text size="sm" c="dimmed">
              {PRIVACY.find((p) => p.value === settings.data.privacy)?.text}
            </Text>
            <ErrorNotice error={privacy.error} />
          </Stack>
        </Card>
      )}
      {settings.data && <Providers providers={settings.data.providers} onSaved={store} />}
      <Threads />
      <LocalApi />
      <McpServers />
    </Stack>
  );
}

function Threads() {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const threads = useQuery({ queryKey: ["threads"], queryFn: () => engine.threadsShow() });
  const [value, setValue] = useState<string | number>("");
  const save = useMutation({
    mutationFn: (n: number | null) => engine.threadsSet(n),
    onSuccess: (view) => {
      setValue("");
      queryClient.setQueryData(["threads"], view);
    },
  });
  if (!threads.data) return <ErrorNotice error={threads.error} />;
  const { saved, in_use, cores } = threads.data;
  return (
    <Card withBorder aria-label="Thread setting">
      <Stack gap="xs">
        <Text fw={600}>Threads for local models</Text>
        <Text size="sm">
          {saved === null ? `One per core (${cores})` : `${saved} saved`}; {in_use} in use now. Fewer threads leave more of the machine to other work;
          the change applies the next time RaptorFlow starts.
        </Text>
        <Group align="flex-end">
          <NumberInput label="Threads" min={1} max={256} value={value} onChange={setValue} placeholder={String(saved ?? cores)} error={save.error ? notice(save.error).message : undefined} />
          <Button variant="light" disabled={value === ""} onClick={() => save.mutate(Number(value))} loading={save.isPending}>
            Save
          </Button>
          <Button variant="subtle" disabled={saved === null} onClick={() => save.mutate(null)}>
            One per core
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

function Providers({ providers, onSaved }: { providers: ProviderRow[]; onSaved: (view: SettingsView) => void }) {
  const engine = useEngine();
  const [form, setForm] = useState({ name: "", kind: "openai-compatible", base_url: "https://api.openai.com/v1", model: "", tier: "standard" as Tier });
  const [key, setKey] = useState("");
  const add = useMutation({
    mutationFn: () => engine.providerAdd(form, key === "" ? null : key),
    onSuccess: (view) => {
      // The key is in the keyring now; the window forgets it.
      setKey("");
      setForm({ ...form, name: "", model: "" });
      onSaved(view);
    },
  });
  const remove = useMutation({ mutationFn: (name: string) => engine.providerRemove(name), onSuccess: onSaved });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
  };
  return (
    <Card withBorder>
      <Stack>
        <Text fw={600}>Cloud providers</Text>
        {providers.length === 0 && <Text c="dimmed">None yet: everything runs on the local models. Add a provider below to use a cloud model.</Text>}
        {providers.length > 0 && (
          <Table aria-label="Providers">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Model</Table.Th>
                <Table.Th>Tier</Table.Th>
                <Table.Th>Key</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {providers.map((p) => (
                <Table.Tr key={p.name}>
                  <Table.Td>{p.name}</Table.Td>
                  <Table.Td>
                    {p.model}
                    <Text size="xs" c="dimmed">
                      {p.kind} · {p.base_url}
                    </Text>
                  </Table.Td>
                  <Table.Td>{p.tier}</Table.Td>
                  <Table.Td>
                    <Badge color={p.has_key ? "green" : "gray"} variant="light">
                      {p.has_key ? "in the OS keyring" : "no key"}
                    </Badge>
                    <ReplaceKey name={p.name} onSaved={onSaved} />
                  </Table.Td>
                  <Table.Td>
                    <Button size="xs" color="red" variant="subtle" onClick={() => remove.mutate(p.name)} aria-label={`Remove ${p.name}`}>
                      Remove
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        <ErrorNotice error={remove.error} />
        <form onSubmit={submit} aria-label="Add a provider">
          <Stack gap="xs">
            <Group grow>
              <TextInput label="Provider name" value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} error={fieldError(add.error, "provider name")} />
              <NativeSelect
                label="Kind"
                value={form.kind}
                onChange={(e) => setForm({ ...form, kind: e.currentTarget.value })}
                data={[
                  { value: "openai-compatible", label: "OpenAI-compatible" },
                  { value: "anthropic", label: "Anthropic" },
                ]}
              />
              <NativeSelect
                label="Tier"
                value={form.tier}
                onChange={(e) => setForm({ ...form, tier: e.currentTarget.value as Tier })}
                data={["fast", "standard", "premium"]}
              />
            </Group>
            <Group grow>
              <TextInput label="Base URL" value={form.base_url} onChange={(e) => setForm({ ...form, base_url: e.currentTarget.value })} />
              <TextInput label="Model" value={form.model} onChange={(e) => setForm({ ...form, model: e.currentTarget.value })} />
              <PasswordInput label="API key" description="Stored in the OS keyring, never shown again" value={key} onChange={(e) => setKey(e.currentTarget.value)} />
            </Group>
            <ErrorNotice error={add.error && !fieldError(add.error, "provider name") ? add.error : null} />
            <Group>
              <Button type="submit" loading={add.isPending}>
                Add provider
              </Button>
            </Group>
          </Stack>
        </form>
      </Stack>
    </Card>
  );
}

function ReplaceKey({ name, onSaved }: { name: string; onSaved: (view: SettingsView) => void }) {
  const engine = useEngine();
  const [key, setKey] = useState("");
  const save = useMutation({
    mutationFn: () => engine.providerSetKey(name, key),
    onSuccess: (view) => {
      setKey("");
      onSaved(view);
    },
  });
  return (
    <Group gap={4} mt={4} wrap="nowrap">
      <PasswordInput size="xs" w={160} aria-label={`New key for ${name}`} placeholder="New key" value={key} onChange={(e) => setKey(e.currentTarget.value)} error={save.error ? notice(save.error).message : undefined} />
      <Button size="xs" variant="light" disabled={key === ""} onClick={() => save.mutate()} loading={save.isPending}>
        Save key
      </Button>
    </Group>
  );
}
