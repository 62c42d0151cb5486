// The fake backend's open interfaces: the local API's switch, port and
// token, and the user's MCP servers (the token of one by URL is kept only
// as "has a token", as the engine keeps it in the keyring).
import type { Commands } from "../api";
import type { ApiView, McpServerRow } from "../bindings";
import { invalid, notFound } from "./errors";

type InterfaceCommands = Pick<Commands, "apiShow" | "apiSet" | "apiTokenShow" | "mcpServersShow" | "mcpServerAdd" | "mcpServerRemove" | "mcpServerTools">;

export function createFakeInterfaces(record: (name: string) => void): InterfaceCommands {
  const clone = <T>(value: T): T => structuredClone(value);
  let api: ApiView = { enabled: false, port: null, default_port: 7420, mcp_allow_writes: false, base_url: null, mcp_url: null, problem: null };
  const apiToken = "rf-fake0123456789abcdef";
  const mcpServers: McpServerRow[] = [];
  return {
    async apiShow() {
      record("api_show");
      return clone(api);
    },
    async apiSet(form) {
      record("api_set");
      const port = form.port ?? api.default_port;
      if (port < 1024) throw invalid("port", `port: ${port} is reserved for the system: choose one from 1024 to 65535`);
      // Like the engine: a port another program holds cannot be listened on, and nothing changes.
      if (form.enabled && port === 7999) throw { kind: "storage", message: "could not listen on 127.0.0.1:7999: Address already in use (os error 98)", field: null };
      const base = `http://127.0.0.1:${port}`;
      api = { ...api, enabled: form.enabled, port: form.port, mcp_allow_writes: form.mcp_allow_writes, base_url: form.enabled ? `${base}/v1` : null, mcp_url: form.enabled ? `${base}/mcp` : null, problem: null };
      return clone(api);
    },
    async apiTokenShow() {
      record("api_token_show");
      return apiToken;
    },
    async mcpServersShow() {
      record("mcp_servers_show");
      return clone(mcpServers);
    },
    async mcpServerAdd(form, token) {
      record("mcp_server_add");
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(form.name)) throw invalid("name", `invalid name: "${form.name}" must be 1 to 64 letters, digits, '_', '-' or '.' (agents' files name it in mcp:NAME/TOOL)`);
      const command = form.command?.trim() ? form.command : null;
      const url = form.url?.trim() ? form.url.trim() : null;
      if (!command && !url) throw invalid("command", "invalid command: give the program that starts the server, or the server's URL");
      if (url && !/^https?:\/\/[^/?]+/.test(url)) throw invalid("url", `invalid url: "${url}" must be an http:// or https:// address with a host, like https://example.com/mcp`);
      if (mcpServers.some((s) => s.name === form.name)) throw { kind: "conflict", message: `MCP server ${form.name} already exists`, field: null };
      // Like the engine: the token goes to the keyring; only its presence is kept here.
      const target = command ? [command, ...form.args.filter((a) => a !== "")].join(" ") : (url ?? "");
      mcpServers.push({ name: form.name, target, kind: command ? "command" : "url", has_token: !!token && token.trim() !== "" });
      return clone(mcpServers);
    },
    async mcpServerRemove(name) {
      record("mcp_server_remove");
      const index = mcpServers.findIndex((s) => s.name === name);
      if (index < 0) throw notFound("MCP server", name);
      mcpServers.splice(index, 1);
      return clone(mcpServers);
    },
    async mcpServerTools(name) {
      record("mcp_server_tools");
      const server = mcpServers.find((s) => s.name === name);
      if (!server) throw notFound("MCP server", name);
      if (server.target.includes("missing")) throw { kind: "network", message: `the MCP server ${name}: could not start \`${server.target}\`: No such file or directory (os error 2)`, field: null };
      return [
        { name: "lookup", description: "Facts about a topic, from the team's notes." },
        { name: "secret", description: null },
      ];
    },
  };
}
