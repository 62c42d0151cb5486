// The fake backend's marketing connectors: the catalog as the engine lists
// it, keys (only whether one is stored, as the engine keeps them in the
// keyring), tests, and signing in to the services that use OAuth, whose
// browser step is played at once.
import type { Channel } from "@tauri-apps/api/core";
import type { Commands } from "../api";
import type { ConnectorStatus, SignInStep } from "../bindings";
import { invalid, notFound } from "./errors";

type ConnectorCommands = Pick<Commands, "connectorList" | "connectorAdd" | "connectorRemove" | "connectorTest" | "connectorSignIn" | "connectorSignInCancel">;

export function createFakeConnectors(record: (name: string) => void): { commands: ConnectorCommands; rows: ConnectorStatus[] } {
  const clone = <T>(value: T): T => structuredClone(value);
  // The connector catalog as the engine lists it; Google Trends is not built.
  const connector = (name: string, title: string, built: boolean, usd: string, note: string | null): ConnectorStatus => ({
    name,
    title,
    auth: ["x", "linkedin", "canva"].includes(name) ? "oauth" : "api-key",
    secret_required: ["linkedin", "canva"].includes(name),
    built,
    note,
    configured: false,
    has_key: false,
    base_url: `https://api.${name}.example`,
    requests_per_second: 1,
    requests_per_day: null,
    usd_per_call: usd,
    price_per: ["semrush", "ahrefs"].includes(name) ? "API unit" : "call",
    calls_today: 0,
    left_today: null,
    last_call_at_ms: null,
    last_outcome: null,
    docs: `https://docs.${name}.example`,
  });
  const connectors: ConnectorStatus[] = [
    connector("semrush", "Semrush", true, "$0.00005", "domain overview, organic keywords and keyword overview; billed per API unit, 10 units a line"),
    connector("ahrefs", "Ahrefs", true, "$0.00", "Domain Rating, metrics and organic keywords; billed in API units from the plan's allowance"),
    connector("newsapi", "NewsAPI", true, "$0.001796", null),
    connector("brave", "Brave Search", true, "$0.005", null),
    connector("google-trends", "Google Trends", false, "$0", "Google publishes no generally available Trends API"),
    connector("x", "X", true, "$0", "sign-in (OAuth 2.0 with PKCE), recent search, accounts and their posts, and posting approved X posts"),
    connector("linkedin", "LinkedIn", true, "$0", "sign-in as a page administrator, the organisation's posts and share statistics, and posting approved LinkedIn posts"),
    connector("canva", "Canva", true, "$0", "sign-in, an empty design of an image brief's size titled with its concept, and its export to files"),
  ];
  /** Ends the sign-in waiting for its approval, if any. */
  let cancel: (() => void) | null = null;
  const commands: ConnectorCommands = {
    async connectorList() {
      record("connector_list");
      return clone(connectors);
    },
    async connectorAdd(form, key) {
      record("connector_add");
      const row = connectors.find((c) => c.name === form.name);
      if (!row) throw invalid("connector", `unknown connector \`${form.name}\``);
      if (row.auth === "oauth") throw invalid("connector", `${form.name} signs in with OAuth rather than an API key`);
      if (form.base_url && !/^https?:\/\/[^/?]+/.test(form.base_url)) throw invalid("base URL", `invalid connector base URL: "${form.base_url}": it must be an http or https URL with a host`);
      row.configured = true;
      // Like the engine: the key goes to the keyring; only its presence is kept here.
      row.has_key = row.has_key || (!!key && key.trim() !== "");
      if (form.base_url) row.base_url = form.base_url;
      return clone(connectors);
    },
    async connectorRemove(name) {
      record("connector_remove");
      const row = connectors.find((c) => c.name === name && c.configured);
      if (!row) throw notFound("connector", name);
      Object.assign(row, { configured: false, has_key: false });
      return clone(connectors);
    },
    async connectorTest(name) {
      record("connector_test");
      const row = connectors.find((c) => c.name === name && c.configured);
      if (!row) throw notFound("connector", name);
      if (!row.has_key) throw { kind: "permission_denied", message: `${name} has no API key: add one`, field: null };
      row.calls_today += 1;
      row.last_outcome = "ok";
      return { results: 1, first_title: "Folding bikes sell out as commuters return", latency_ms: 120, cost_micro_usd: 1796 };
    },
    async connectorSignIn(form, clientSecret, onStep: Channel<SignInStep>) {
      record("connector_sign_in");
      const row = connectors.find((c) => c.name === form.name);
      if (!row || row.auth !== "oauth") throw invalid("connector", `${form.name} uses an API key: add one instead`);
      if (form.client_id.trim() === "") throw invalid("--client-id", "invalid connector --client-id: it is empty: register an app with the service and give its client id");
      if (row.secret_required && !clientSecret) {
        throw invalid("client secret", `invalid connector --client-secret-stdin: ${row.title} issues apps with a client secret and asks for it when signing in`);
      }
      if (form.organization && !/^(urn:li:organization:)?\d+$/.test(form.organization)) {
        throw invalid("--organization", `invalid connector --organization: "${form.organization}" is not a LinkedIn organisation id`);
      }
      const port = form.redirect_port ?? 8757;
      onStep.onmessage({ authorize_url: `${row.base_url}/oauth/authorize?client_id=${form.client_id}&state=fake`, redirect_uri: `http://127.0.0.1:${port}/callback`, opened: true });
      // The user approves in the browser shortly (a client id "slow" waits
      // until the sign-in is cancelled, as a user who never approves).
      let cancelled = false;
      cancel = () => (cancelled = true);
      for (let waited = 0; waited < (form.client_id === "slow" ? 60_000 : 300) && !cancelled; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      cancel = null;
      if (cancelled) throw { kind: "conflict", message: "the sign-in was cancelled; nothing was stored", field: null };
      Object.assign(row, { configured: true, has_key: true });
      return clone(connectors);
    },
    async connectorSignInCancel() {
      record("connector_sign_in_cancel");
      cancel?.();
      return null;
    },
  };
  return { commands, rows: connectors };
}
