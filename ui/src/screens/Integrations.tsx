// Integrations: the marketing APIs (NewsAPI, Brave Search, ...). Each row
// says whether it is configured, whether a key is stored (the key goes to
// the OS keyring and is never shown again), its limits and price, today's
// calls and the last call's outcome; a key can be added, tested or removed,
// and X, LinkedIn and Canva are signed in to with the user's own app.
import { Anchor, Badge, Button, Card, Code, Group, NumberInput, PasswordInput, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import { Channel } from "@tauri-apps/api/core";

import type { ConnectorStatus, ConnectorTestView, SignInStep } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";
import { fieldError } from "../errors";

function status(c: ConnectorStatus): { label: string; color: string } {
  if (!c.built) return { label: "not available yet", color: "gray" };
  if (!c.configured) return { label: "not configured", color: "gray" };
  if (!c.has_key) return { label: c.auth === "oauth" ? "not signed in" : "no key", color: "yellow" };
  if (c.last_outcome && c.last_outcome !== "ok") return { label: c.last_outcome.replaceAll("_", " "), color: "red" };
  return { label: c.auth === "oauth" ? "signed in" : "key stored", color: "green" };
}

function ConnectorForm({ row, onSaved }: { row: ConnectorStatus; onSaved: (rows: ConnectorStatus[]) => void }) {
  const engine = useEngine();
  const [key, setKey] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const save = useMutation({
    mutationFn: () => engine.connectorAdd({ name: row.name, base_url: baseUrl || null, requests_per_second: null, requests_per_day: null, usd_per_call: null }, key || null),
    onSuccess: (rows) => {
      setKey("");
      onSaved(rows);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form onSubmit={submit} aria-label={`Configure ${row.title}`}>
      <Group align="flex-end">
        <PasswordInput label={`${row.title} API key`} value={key} onChange={(e) => setKey(e.currentTarget.value)} w={260} error={fieldError(save.error, "api key")} />
        <TextInput
          label="Base URL (optional)"
          placeholder={row.base_url}
          value={baseUrl}
          onChange={(e) => setBaseUrl(e.currentTarget.value)}
          w={260}
          error={fieldError(save.error, "base URL")}
        />
        <Button type="submit" loading={save.isPending}>
          Save
        </Button>
      </Group>
      <ErrorNotice error={save.error} />
    </form>
  );
}

function SignInForm({ row, onSaved }: { row: ConnectorStatus; onSaved: (rows: ConnectorStatus[]) => void }) {
  const engine = useEngine();
  const [clientId, setClientId] = useState("");
  const [secret, setSecret] = useState("");
  const [port, setPort] = useState<number | string>(8757);
  const [organization, setOrganization] = useState("");
  const [step, setStep] = useState<SignInStep | null>(null);
  const signIn = useMutation({
    mutationFn: () => {
      setStep(null);
      const channel = new Channel<SignInStep>();
      channel.onmessage = setStep;
      const redirect_port = typeof port === "number" ? port : null;
      return engine.connectorSignIn({ name: row.name, client_id: clientId, redirect_port, organization: organization || null }, secret || null, channel);
    },
    onSuccess: (rows) => {
      setSecret("");
      onSaved(rows);
    },
    onSettled: () => setStep(null),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signIn.mutate();
  };
  return (
    <form onSubmit={submit} aria-label={`Sign in to ${row.title}`}>
      <Stack gap="xs">
        <Text size="sm">
          Register an app with {row.title} whose redirect address is <Code>http://127.0.0.1:{String(port)}/callback</Code>, then give its client id
          {row.secret_required ? " and secret" : ""}. The tokens{row.secret_required ? " and the secret" : ""} go to the OS keyring.
        </Text>
        <Group align="flex-end">
          <TextInput label="Client ID" value={clientId} onChange={(e) => setClientId(e.currentTarget.value)} w={240} required error={fieldError(signIn.error, "--client-id")} />
          <PasswordInput
            label={row.secret_required && !row.configured ? "Client secret" : "Client secret (kept if empty)"}
            value={secret}
            onChange={(e) => setSecret(e.currentTarget.value)}
            w={240}
            required={row.secret_required && !row.configured}
            error={fieldError(signIn.error, "client secret") ?? fieldError(signIn.error, "--client-secret-stdin")}
          />
          <NumberInput label="Redirect port" value={port} onChange={setPort} min={1024} max={65535} w={130} />
          {row.name === "linkedin" && (
            <TextInput
              label="Page id (optional)"
              description="Without it, the one page you administer"
              value={organization}
              onChange={(e) => setOrganization(e.currentTarget.value)}
              w={200}
              error={fieldError(signIn.error, "--organization")}
            />
          )}
          <Button type="submit" loading={signIn.isPending}>
            Sign in
          </Button>
          {signIn.isPending && (
            <Button variant="subtle" onClick={() => void engine.connectorSignInCancel()}>
              Cancel
            </Button>
          )}
        </Group>
        {step && signIn.isPending && (
          <Text size="sm" role="status" aria-label="Sign-in address">
            {step.opened ? "Approve in the browser window that opened" : "Open this address in your browser and approve"} (waiting up to 5 minutes):{" "}
            <Code>{step.authorize_url}</Code>
          </Text>
        )}
        <ErrorNotice error={signIn.error} />
      </Stack>
    </form>
  );
}

export function Integrations() {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: ["connectors"], queryFn: () => engine.connectorList() });
  const store = (rows: ConnectorStatus[]) => queryClient.setQueryData(["connectors"], rows);
  const [tested, setTested] = useState<Record<string, ConnectorTestView>>({});
  const test = useMutation({
    mutationFn: (name: string) => engine.connectorTest(name),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ["connectors"] }),
    onSuccess: (view, name) => setTested((t) => ({ ...t, [name]: view })),
  });
  const remove = useMutation({ mutationFn: (name: string) => engine.connectorRemove(name), onSuccess: store });
  const [open, setOpen] = useState<string | null>(null);

  return (
    <Stack>
      <Title order={2}>Integrations</Title>
      <Text c="dimmed">
        Nothing is sent to these services until you add a key or sign in. In privacy mode offline-only none is called; answers still fresh in the cache are
        shown.
      </Text>
      <ErrorNotice error={list.error ?? test.error ?? remove.error} />
      <Table aria-label="Connectors">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Service</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Limits and price</Table.Th>
            <Table.Th>Today</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(list.data ?? []).map((c) => {
            const s = status(c);
            const result = tested[c.name];
            return (
              <Table.Tr key={c.name} aria-label={c.title}>
                <Table.Td>
                  <Anchor href={c.docs} target="_blank" rel="noreferrer">
                    {c.title}
                  </Anchor>
                  {c.note && (
                    <Text size="xs" c="dimmed">
                      {c.note}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Badge color={s.color}>{s.label}</Badge>
                </Table.Td>
                <Table.Td>
                  {c.built ? `${c.requests_per_second}/s${c.requests_per_day !== null ? `, ${c.requests_per_day}/day` : ""} · ${c.usd_per_call} per ${c.price_per}` : "–"}
                </Table.Td>
                <Table.Td>
                  {c.built ? `${c.calls_today} call${c.calls_today === 1 ? "" : "s"}${c.left_today !== null ? `, ${c.left_today} left` : ""}` : "–"}
                  {result && (
                    <Text size="xs">
                      Test: {result.results} result{result.results === 1 ? "" : "s"} in {result.latency_ms} ms{result.first_title ? ` · ${result.first_title}` : ""}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  {c.built && c.auth === "oauth" && !c.configured && (
                    <Stack gap={4}>
                      <Button size="xs" variant="light" onClick={() => setOpen(open === c.name ? null : c.name)}>
                        Sign in
                      </Button>
                      <Text size="xs" c="dimmed">
                        or from a terminal: <code>raptorflow connectors auth {c.name} --client-id ID{c.secret_required ? " --client-secret-stdin" : ""}</code>
                      </Text>
                    </Stack>
                  )}
                  {c.built && c.auth === "oauth" && c.configured && (
                    <Group gap="xs">
                      <Button size="xs" variant="light" onClick={() => setOpen(open === c.name ? null : c.name)}>
                        Sign in again
                      </Button>
                      <Button size="xs" variant="light" onClick={() => test.mutate(c.name)} loading={test.isPending && test.variables === c.name}>
                        Test
                      </Button>
                      <Button size="xs" variant="subtle" color="red" onClick={() => remove.mutate(c.name)}>
                        Sign out
                      </Button>
                    </Group>
                  )}
                  {c.built && c.auth === "api-key" && (
                    <Group gap="xs">
                      <Button size="xs" variant="light" onClick={() => setOpen(open === c.name ? null : c.name)}>
                        {c.has_key ? "Change" : "Add key"}
                      </Button>
                      {c.configured && (
                        <Button size="xs" variant="light" onClick={() => test.mutate(c.name)} loading={test.isPending && test.variables === c.name}>
                          Test
                        </Button>
                      )}
                      {c.configured && (
                        <Button size="xs" variant="subtle" color="red" onClick={() => remove.mutate(c.name)}>
                          Remove
                        </Button>
                      )}
                    </Group>
                  )}
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      {open &&
        (list.data ?? [])
          .filter((c) => c.name === open)
          .map((c) => (
            <Card withBorder key={c.name}>
              {c.auth === "oauth" ? (
                <SignInForm
                  row={c}
                  onSaved={(rows) => {
                    store(rows);
                    setOpen(null);
                  }}
                />
              ) : (
                <ConnectorForm
                  row={c}
                  onSaved={(rows) => {
                    store(rows);
                    setOpen(null);
                  }}
                />
              )}
            </Card>
          ))}
    </Stack>
  );
}
