// The settings of RaptorFlow's open interfaces: the local OpenAI-compatible
// API (with MCP on /mcp) that other tools call, and the MCP servers whose
// tools the agents may call where their files name them.
import { Badge, Button, Card, Checkbox, Code, CopyButton, Group, NumberInput, PasswordInput, SegmentedControl, Stack, Switch, Table, Text, Textarea, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";

import type { ApiView, McpServerRow, McpToolRow } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";
import { fieldError } from "../errors";

export function LocalApi() {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const api = useQuery({ queryKey: ["api"], queryFn: () => engine.apiShow() });
  const [port, setPort] = useState<string | number>("");
  const [token, setToken] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (view: { enabled: boolean; port: number | null; mcp_allow_writes: boolean }) => engine.apiSet(view),
    onSuccess: (view: ApiView) => {
      setPort("");
      queryClient.setQueryData(["api"], view);
    },
    // A failed change may have left the API stopped: show what runs now.
    onError: () => void queryClient.invalidateQueries({ queryKey: ["api"] }),
  });
  const reveal = useMutation({ mutationFn: () => engine.apiTokenShow(), onSuccess: setToken });
  if (!api.data) return <ErrorNotice error={api.error} />;
  const view = api.data;
  const apply = (change: Partial<{ enabled: boolean; port: number | null; mcp_allow_writes: boolean }>) =>
    save.mutate({ enabled: view.enabled, port: view.port, mcp_allow_writes: view.mcp_allow_writes, ...change });
  return (
    <Card withBorder aria-label="Local API">
      <Stack gap="xs">
        <Text fw={600}>Local API and MCP</Text>
        <Text size="sm" c="dimmed">
          Chat clients, editors and scripts that speak the OpenAI API or MCP can use RaptorFlow's local models, Codex, Guardian and agents while the app is
          open. Only programs on this machine can connect, and each needs the token. Calls follow the privacy mode and budgets, and show in Costs.
        </Text>
        <Switch label="Run the local API" checked={view.enabled} onChange={(e) => apply({ enabled: e.currentTarget.checked })} disabled={save.isPending} />
        {view.base_url && (
          <Text size="sm" role="status" aria-label="API status">
            Listening: OpenAI base URL <Code>{view.base_url}</Code>, MCP <Code>{view.mcp_url}</Code>
          </Text>
        )}
        {view.enabled && !view.base_url && view.problem && (
          <Text size="sm" c="red" role="status" aria-label="API status">
            Not running: {view.problem}
          </Text>
        )}
        {!view.enabled && (
          <Text size="sm" role="status" aria-label="API status">
            Off
          </Text>
        )}
        <Group align="flex-end">
          <NumberInput label="Port" min={1024} max={65535} clampBehavior="none" allowDecimal={false} value={port} onChange={setPort} placeholder={String(view.port ?? view.default_port)} w={140} error={fieldError(save.error, "port")} />
          <Button variant="light" disabled={port === ""} onClick={() => apply({ port: Number(port) })} loading={save.isPending}>
            Use this port
          </Button>
          <Checkbox
            label="Allow MCP's writing tools (draft assets for review)"
            checked={view.mcp_allow_writes}
            onChange={(e) => apply({ mcp_allow_writes: e.currentTarget.checked })}
            disabled={save.isPending}
          />
        </Group>
        <ErrorNotice error={save.error && !fieldError(save.error, "port") ? save.error : null} />
        <Group gap="xs">
          {token === null ? (
            <Button size="xs" variant="subtle" onClick={() => reveal.mutate()} loading={reveal.isPending}>
              Show the API token
            </Button>
          ) : (
            <>
              <Code aria-label="API token">{token}</Code>
              <CopyButton value={token}>
                {({ copied, copy }) => (
                  <Button size="xs" variant="light" onClick={copy}>
                    {copied ? "Copied" : "Copy"}
                  </Button>
                )}
              </CopyButton>
              <Button size="xs" variant="subtle" onClick={() => setToken(null)}>
                Hide
              </Button>
            </>
          )}
        </Group>
        <ErrorNotice error={reveal.error} />
      </Stack>
    </Card>
  );
}

export function McpServers() {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const servers = useQuery({ queryKey: ["mcp-servers"], queryFn: () => engine.mcpServersShow() });
  const store = (rows: McpServerRow[]) => queryClient.setQueryData(["mcp-servers"], rows);
  const [kind, setKind] = useState<"command" | "url">("command");
  const [form, setForm] = useState({ name: "", command: "", args: "", url: "" });
  const [token, setToken] = useState("");
  const [tools, setTools] = useState<{ server: string; tools: McpToolRow[] } | null>(null);
  const add = useMutation({
    mutationFn: () =>
      engine.mcpServerAdd(
        kind === "command"
          ? { name: form.name, command: form.command, args: form.args.split("\n").map((a) => a.trim()), url: null }
          : { name: form.name, command: null, args: [], url: form.url },
        kind === "url" && token !== "" ? token : null,
      ),
    onSuccess: (rows) => {
      // The token is in the keyring now; the window forgets it.
      setToken("");
      setForm({ name: "", command: "", args: "", url: "" });
      store(rows);
    },
  });
  const remove = useMutation({ mutationFn: (name: string) => engine.mcpServerRemove(name), onSuccess: store });
  const list = useMutation({ mutationFn: (name: string) => engine.mcpServerTools(name), onSuccess: (rows, server) => setTools({ server, tools: rows }) });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
  };
  const rows = servers.data ?? [];
  return (
    <Card withBorder aria-label="MCP servers">
      <Stack>
        <Text fw={600}>MCP servers</Text>
        <Text size="sm" c="dimmed">
          Tools of other MCP servers, for agents whose files name them (mcp:SERVER/TOOL); no other agent can call them. What a tool answers is data for
          the agent, never instructions. A server by command is a program RaptorFlow starts on this machine; in offline-only mode a server by URL is
          called only if it is on this machine.
        </Text>
        <ErrorNotice error={servers.error} />
        {servers.data && rows.length === 0 && <Text c="dimmed">None added.</Text>}
        {rows.length > 0 && (
          <Table aria-label="Added MCP servers">
            <Table.Tbody>
              {rows.map((s) => (
                <Table.Tr key={s.name}>
                  <Table.Td>{s.name}</Table.Td>
                  <Table.Td>
                    <Code>{s.target}</Code>
                    {s.kind === "url" && (
                      <Badge ml="xs" color={s.has_token ? "green" : "gray"} variant="light">
                        {s.has_token ? "token in the OS keyring" : "no token"}
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button size="xs" variant="light" onClick={() => list.mutate(s.name)} loading={list.isPending && list.variables === s.name} aria-label={`Tools of ${s.name}`}>
                        Tools
                      </Button>
                      <Button size="xs" color="red" variant="subtle" onClick={() => remove.mutate(s.name)} aria-label={`Remove ${s.name}`}>
                        Remove
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {list.error ? <ErrorNotice error={list.error} /> : null}
        {tools && !list.error && (
          <Stack gap={2} aria-label={`Tools of server ${tools.server}`}>
            <Text size="sm">
              {tools.server} offers {tools.tools.length === 1 ? "1 tool" : `${tools.tools.length} tools`}:
            </Text>
            {tools.tools.map((t) => (
              <Text size="sm" key={t.name}>
                <Code>
                  mcp:{tools.server}/{t.name}
                </Code>{" "}
                {t.description ?? ""}
              </Text>
            ))}
          </Stack>
        )}
        <ErrorNotice error={remove.error} />
        <form onSubmit={submit} aria-label="Add an MCP server">
          <Stack gap="xs">
            <Group align="flex-end">
              <TextInput label="Server name" value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} error={fieldError(add.error, "name")} />
              <SegmentedControl
                aria-label="Reached by"
                value={kind}
                onChange={(value) => setKind(value as "command" | "url")}
                data={[
                  { value: "command", label: "Command" },
                  { value: "url", label: "URL" },
                ]}
              />
            </Group>
            {kind === "command" ? (
              <Group grow align="flex-start">
                <TextInput label="Program" placeholder="npx" value={form.command} onChange={(e) => setForm({ ...form, command: e.currentTarget.value })} error={fieldError(add.error, "command")} />
                <Textarea label="Arguments, one per line" autosize minRows={1} value={form.args} onChange={(e) => setForm({ ...form, args: e.currentTarget.value })} />
              </Group>
            ) : (
              <Group grow align="flex-start">
                <TextInput label="Server URL" placeholder="https://example.com/mcp" value={form.url} onChange={(e) => setForm({ ...form, url: e.currentTarget.value })} error={fieldError(add.error, "url")} />
                <PasswordInput label="Bearer token (optional)" description="Stored in the OS keyring, never shown again" value={token} onChange={(e) => setToken(e.currentTarget.value)} />
              </Group>
            )}
            <ErrorNotice error={add.error && !["name", "command", "url"].some((f) => fieldError(add.error, f)) ? add.error : null} />
            <Group>
              <Button type="submit" loading={add.isPending}>
                Add server
              </Button>
            </Group>
          </Stack>
        </form>
      </Stack>
    </Card>
  );
}
