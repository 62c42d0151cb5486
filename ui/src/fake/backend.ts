// An in-memory backend behind Tauri's IPC mock, for the interface's tests
// (Vitest and the Playwright browser tests). It is typed by the generated
// bindings — `FakeBackend` must implement every command with the Rust
// signatures — and it keeps only the engine's rules the screens show: names
// required, errors as {kind, message, field}, a few Guardian rules (X's 280
// characters, the brand's banned terms and required disclaimers), streaming
// answers that stop. The real engine is tested in Rust and by the
// real-window tests.
import type { Channel } from "@tauri-apps/api/core";
import { emit } from "@tauri-apps/api/event";
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";

import type { Commands } from "../api";
import { invalid, notFound } from "./errors";
import { createFakeConnectors } from "./connectors";
import { createFakeInterfaces } from "./interfaces";
import { createFakePublishing } from "./publishing";
import { createFakeSwarm, type FakeSwarm } from "./swarm";
import type {
  Asset,
  AssetContent,
  AskChunk,
  Campaign,
  CampaignStatus,
  CodexSource,
  CoreEvent,
  GuardianFinding,
  ImportProgress,
  ModelRow,
  SignalChart,
  Passage,
  Report,
  SettingsView,
  SyncRow,
  WorkspaceIndex,
} from "../bindings";

export interface FakeBackend {
  commands: Commands;
  /** The swarm's runs, and which agents fail next. */
  swarm: FakeSwarm;
  /** Every command called, as `name` (for assertions). */
  calls: string[];
  /** Files the fake file system has: path to text. */
  files: Map<string, string>;
  /** What the open-file dialog answers next (an empty list: cancelled). */
  dialogAnswer: string[];
  /** The answer Ask streams, word by word. */
  answer: string;
  /** Milliseconds between streamed words. */
  wordDelayMs: number;
  /** Publishes a change event, as the engine does for any change. */
  changed(event: CoreEvent): Promise<void>;
  /** Drops files on the window, as the desktop does when the user drags them in. */
  dropFiles(paths: string[]): Promise<void>;
  /** Sets a move's status behind the interface's back, as the CLI would. */
  setMoveStatusElsewhere(moveId: string, status: Campaign["moves"][string]["status"]): Promise<void>;
}

/** The fake backend's one sync server, and how many documents a sync of it exchanges. */
export const FAKE_SYNC_SERVER = "https://sync.fake.test";
export const FAKE_SYNC_DOCUMENTS = 40;

/** The texts of an asset, by field name (lists as `name[i]`). */
export function assetTexts(content: AssetContent): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, value] of Object.entries(content)) {
    if (key === "kind") continue;
    if (typeof value === "string") out.push([key, value]);
    else if (Array.isArray(value)) value.forEach((item, i) => typeof item === "string" && out.push([`${key}[${i}]`, item]));
  }
  return out;
}

function guardian(content: AssetContent, brand: WorkspaceIndex["brand"]): Report {
  const findings: GuardianFinding[] = [];
  if (content.kind === "x_post" && [...content.text].length > 280) {
    findings.push({
      category: "length",
      rule: "x.post_length",
      severity: "block",
      field: "text",
      message: `the post is ${[...content.text].length} characters; X allows 280`,
      span: { start: 280, end: [...content.text].length },
    });
  }
  const texts = assetTexts(content);
  for (const term of brand.banned_terms ?? []) {
    for (const [field, text] of texts) {
      const at = text.toLowerCase().indexOf(term.toLowerCase());
      if (term && at >= 0) {
        findings.push({
          category: "brand_banned_term",
          rule: "brand.banned_term",
          severity: "block",
          field,
          message: `"${term}" is a banned term in this brand's codex`,
          span: { start: at, end: at + term.length },
        });
      }
    }
  }
  const all = texts.map(([, text]) => text.toLowerCase()).join("\n");
  for (const disclaimer of brand.required_disclaimers ?? []) {
    if (disclaimer && !all.includes(disclaimer.toLowerCase())) {
      findings.push({
        category: "missing_disclaimer",
        rule: "brand.required_disclaimer",
        severity: "block",
        field: "",
        message: `add the required disclaimer "${disclaimer}"`,
        span: null,
      });
    }
  }
  const verdict = findings.some((f) => f.severity === "block") ? "block" : findings.length > 0 ? "warn" : "pass";
  return { verdict, findings };
}

export function createFakeBackend(): FakeBackend {
  let next = 0;
  const id = () => `01900000-0000-7000-8000-${String(++next).padStart(12, "0")}`;
  const now = () => 1_767_000_000_000 + next;
  const workspaces = new Map<string, WorkspaceIndex>();
  const campaigns = new Map<string, Campaign>();
  const sources = new Map<string, CodexSource>();
  const asking = new Map<string, () => void>();
  let settings: SettingsView = { privacy: "local-preferred", providers: [] };
  const budgets = new Map<string, number>();
  let threads: number | null = null;
  const models: ModelRow[] = [
    { id: "all-minilm-l6-v2", name: "all-MiniLM-L6-v2", kind: "embedding", size_bytes: 90_900_000, installed: true, default_for: ["embedding"], license: "Apache-2.0", in_use: false },
    { id: "smollm2-135m-instruct-q4_1", name: "SmolLM2 135M Instruct", kind: "llm", size_bytes: 98_400_000, installed: true, default_for: ["llm"], license: "Apache-2.0", in_use: true },
    { id: "smollm2-360m-instruct-q8_0", name: "SmolLM2 360M Instruct", kind: "llm", size_bytes: 386_000_000, installed: false, default_for: [], license: "Apache-2.0", in_use: false },
  ];
  const downloads = new Map<string, () => void>();
  /** Workspaces joined to the fake sync server, by id. */
  const joined = new Map<string, SyncRow>();
  const calls: string[] = [];
  /** Recorded signal values: workspace, then series, then day to value. */
  const signals = new Map<string, Map<string, Map<string, number>>>();
  const day = (offset: number) => new Date(Date.UTC(2026, 11, 6) + offset * 86_400_000).toISOString().slice(0, 10);
  const clone = <T>(value: T): T => structuredClone(value);

  /** Sync progress as the engine publishes it: the index, then the rest. */
  const syncDocuments = async (workspaceId: string, server: string) => {
    for (let done = 1; done <= FAKE_SYNC_DOCUMENTS; done += 8) {
      await backend.changed({ event: "sync_progress", workspace_id: workspaceId, server, done, total: FAKE_SYNC_DOCUMENTS });
      await new Promise((resolve) => setTimeout(resolve, backend.wordDelayMs));
    }
    await backend.changed({ event: "sync_progress", workspace_id: workspaceId, server, done: FAKE_SYNC_DOCUMENTS, total: FAKE_SYNC_DOCUMENTS });
  };
  const workspace = (workspaceId: string) => {
    const found = workspaces.get(workspaceId);
    if (!found) throw notFound("workspace", workspaceId);
    return found;
  };
  const campaign = (campaignId: string) => {
    const found = campaigns.get(campaignId);
    if (!found) throw notFound("campaign", campaignId);
    return found;
  };
  const findMove = (moveId: string) => {
    for (const c of campaigns.values()) if (c.moves[moveId]) return c;
    throw notFound("move", moveId);
  };
  const findAsset = (assetId: string): [Campaign, Asset] => {
    for (const c of campaigns.values()) {
      const asset = c.assets[assetId];
      if (asset) return [c, asset];
    }
    throw notFound("asset", assetId);
  };
  const view = (c: Campaign, assetId: string) => {
    const asset = c.assets[assetId]!;
    return clone({ asset_id: assetId, campaign_id: c.id, kind: asset.content.kind, ...asset });
  };
  const changedCampaign = (c: Campaign) => backend.changed({ event: "campaign_changed", workspace_id: c.workspace_id, campaign_id: c.id });
  const summary = (w: WorkspaceIndex) => ({
    id: w.id,
    name: w.name,
    created_at: w.created_at,
    n_members: Object.keys(w.members).length,
    n_campaigns: Object.keys(w.campaigns).length,
  });
  const record = (name: string) => calls.push(name);
  const fakeConnectors = createFakeConnectors(record);
  const connectors = fakeConnectors.rows;

  const swarm = createFakeSwarm(
    (record) => emit("run-event", record),
    () => backend.answer,
    () => backend.wordDelayMs,
    (campaignId) => campaign(campaignId).workspace_id,
  );
  const commands: Commands = {
    ...swarm.commands,
    ...fakeConnectors.commands,
    ...createFakeInterfaces(record),
    ...createFakePublishing(record, findAsset, view, changedCampaign),
    async workspaceList() {
      record("workspace_list");
      return [...workspaces.values()].map(summary);
    },
    async workspaceCreate(name) {
      record("workspace_create");
      if (!name.trim()) throw invalid("workspace name", "workspace name: must not be empty");
      const w: WorkspaceIndex = {
        schema: 1,
        id: id(),
        name: name.trim(),
        created_at: now(),
        members: { me: { display_name: "Me", role: "owner", joined_at: now() } },
        brand: {
          company: "",
          offer: "",
          audiences: [],
          voice: { tone: "", dos: [], donts: [] },
          banned_terms: [],
          required_disclaimers: [],
          disclaimers_by_kind: {},
          competitors: [],
          positioning: "",
          sources: {},
          generated: {},
        },
        campaigns: {},
        gamification: {},
        codex: {},
      };
      workspaces.set(w.id, w);
      void backend.changed({ event: "workspace_changed", workspace_id: w.id });
      return clone(w);
    },
    async workspaceShow(workspaceId) {
      record("workspace_show");
      return clone(workspace(workspaceId));
    },
    async workspaceStats(workspaceId) {
      record("workspace_stats");
      const w = workspace(workspaceId);
      return Object.entries(w.members).map(([user, member]) => {
        const stats = w.gamification[user] ?? { points: 0, streak_days: 0, achievements: [] };
        return { user_id: user, display_name: member.display_name, stats: clone(stats), achievement_names: [...(stats.achievements ?? [])] };
      });
    },
    async brandUpdate(workspaceId, brand) {
      record("brand_update");
      const w = workspace(workspaceId);
      if ((brand.company ?? "").length > 200) throw invalid("brand codex", "brand codex: company: at most 200 characters");
      w.brand = clone(brand);
      void backend.changed({ event: "workspace_changed", workspace_id: w.id });
      return clone(w);
    },
    async campaignList(workspaceId) {
      record("campaign_list");
      const w = workspace(workspaceId);
      return Object.entries(w.campaigns).map(([cid, entry]) => ({ id: cid, name: entry.name, status: entry.status, created_at: entry.created_at }));
    },
    async campaignCreate(workspaceId, form) {
      record("campaign_create");
      const w = workspace(workspaceId);
      if (!form.name.trim()) throw invalid("campaign name", "campaign name: must not be empty");
      if (!form.goal.trim()) throw invalid("campaign goal", "campaign goal: must not be empty");
      const c: Campaign = {
        schema: 1,
        id: id(),
        workspace_id: w.id,
        name: form.name.trim(),
        goal: form.goal.trim(),
        channels: form.channels ?? [],
        budget: null,
        status: "draft",
        created_at: now(),
        start_date: null,
        end_date: null,
        moves: {},
        assets: {},
      };
      campaigns.set(c.id, c);
      w.campaigns[c.id] = { name: c.name, status: c.status, document: c.id, created_at: c.created_at };
      void changedCampaign(c);
      return clone(c);
    },
    async campaignShow(campaignId) {
      record("campaign_show");
      return clone(campaign(campaignId));
    },
    async campaignUpdate(campaignId, changes) {
      record("campaign_update");
      const c = campaign(campaignId);
      const { name, goal, channels } = changes;
      if (name != null && !name.trim()) throw invalid("campaign name", "campaign name: must not be empty");
      if (goal != null && !goal.trim()) throw invalid("campaign goal", "campaign goal: must not be empty");
      if (name != null) c.name = name.trim();
      if (goal != null) c.goal = goal.trim();
      if (channels != null) c.channels = channels;
      workspace(c.workspace_id).campaigns[c.id]!.name = c.name;
      void changedCampaign(c);
      return clone(c);
    },
    async campaignSetStatus(campaignId, status: CampaignStatus) {
      record("campaign_set_status");
      const c = campaign(campaignId);
      c.status = status;
      workspace(c.workspace_id).campaigns[c.id]!.status = status;
      void changedCampaign(c);
      return clone(c);
    },
    async moveAdd(campaignId, form) {
      record("move_add");
      const c = campaign(campaignId);
      if (!form.title.trim()) throw invalid("move title", "move title: must not be empty");
      if (form.due_date && !/^\d{4}-\d{2}-\d{2}$/.test(form.due_date)) throw invalid("due date", `due date: '${form.due_date}' is not YYYY-MM-DD`);
      const moveId = id();
      c.moves[moveId] = {
        title: form.title.trim(),
        channel: form.channel,
        status: "planned",
        owner: null,
        due_date: form.due_date || null,
        description: "",
        assets: [],
        created_at: now(),
      };
      void changedCampaign(c);
      return { id: moveId, campaign_id: c.id, move: clone(c.moves[moveId]!) };
    },
    async moveSetStatus(moveId, status) {
      record("move_set_status");
      const c = findMove(moveId);
      c.moves[moveId]!.status = status;
      void changedCampaign(c);
      return { id: moveId, campaign_id: c.id, move: clone(c.moves[moveId]!) };
    },
    async assetList(campaignId) {
      record("asset_list");
      const c = campaign(campaignId);
      return Object.keys(c.assets).map((assetId) => view(c, assetId));
    },
    async assetCreate(campaignId, moveId, content) {
      record("asset_create");
      const c = campaign(campaignId);
      const assetId = id();
      const { findings } = guardian(content, workspace(c.workspace_id).brand);
      c.assets[assetId] = { move_id: moveId, content: clone(content), status: "draft", findings, created_at: now(), review_note: "", published_url: null, design: null };
      if (moveId && c.moves[moveId]) c.moves[moveId]!.assets.push(assetId);
      void changedCampaign(c);
      return view(c, assetId);
    },
    async assetSave(assetId, content) {
      record("asset_save");
      const [c, asset] = findAsset(assetId);
      if (asset.content.kind !== content.kind) throw invalid("asset content", `asset content: kind: an asset stays a ${asset.content.kind}`);
      asset.content = clone(content);
      asset.findings = guardian(content, workspace(c.workspace_id).brand).findings;
      void changedCampaign(c);
      return view(c, assetId);
    },
    async assetCheck(workspaceId, content) {
      record("asset_check");
      return guardian(content, workspace(workspaceId).brand);
    },
    async assetSetStatus(assetId, status, note) {
      record("asset_set_status");
      const [c, asset] = findAsset(assetId);
      const report = guardian(asset.content, workspace(c.workspace_id).brand);
      asset.findings = report.findings;
      if ((status === "approved" || status === "published") && report.verdict === "block") {
        throw { kind: "conflict", message: `asset ${assetId} cannot be ${status}: Guardian blocks it`, field: null };
      }
      asset.status = status;
      if (note !== null) asset.review_note = note;
      void changedCampaign(c);
      return view(c, assetId);
    },
    async codexList(workspaceId) {
      record("codex_list");
      workspace(workspaceId);
      return [...sources.values()]
        .filter((s) => s.workspace_id === workspaceId)
        .map((s) => ({
          source_id: s.id,
          path: s.path,
          title: s.title,
          media_type: s.media_type,
          content_hash: s.content_hash,
          n_chars: s.text.length,
          imported_at: s.imported_at,
          n_chunks: s.text.split(/\n\s*\n/).length,
        }));
    },
    async codexImport(workspaceId, paths, onProgress: Channel<ImportProgress>) {
      record("codex_import");
      const w = workspace(workspaceId);
      if (paths.length === 0) throw invalid("paths", "paths: choose at least one file or folder to import");
      const reports = [];
      for (const [index, path] of paths.entries()) {
        onProgress.onmessage({ kind: "file", index, n_files: paths.length, path });
        const text = backend.files.get(path);
        if (text === undefined) {
          reports.push({ path, status: "failed" as const, error: `${path}: no such file` });
          continue;
        }
        const n_chunks = text.split(/\n\s*\n/).length;
        for (let done = 0; done <= n_chunks; done++) onProgress.onmessage({ kind: "step", stage: "embedding", done, total: n_chunks });
        const sourceId = id();
        const title = path.split("/").pop() ?? path;
        sources.set(sourceId, {
          schema: 1,
          id: sourceId,
          workspace_id: w.id,
          path,
          title,
          media_type: "text/markdown",
          content_hash: `fake-${sourceId}`,
          imported_by: "me",
          imported_at: now(),
          text,
        });
        w.codex = { ...w.codex, [sourceId]: { document: sourceId, path, title, media_type: "text/markdown", content_hash: `fake-${sourceId}`, n_chars: text.length, imported_at: now() } };
        reports.push({ path, status: "added" as const, source_id: sourceId, title, n_chunks, n_embedded: n_chunks });
        void backend.changed({ event: "codex_changed", workspace_id: w.id, source_id: sourceId });
      }
      return reports;
    },
    async codexSearch(workspaceId, query) {
      record("codex_search");
      workspace(workspaceId);
      if (!query.trim()) throw invalid("query", "query: type what to search for");
      const words = query.toLowerCase().split(/\W+/).filter((w) => w.length > 2);
      const passages: Passage[] = [];
      for (const s of sources.values()) {
        if (s.workspace_id !== workspaceId) continue;
        let at = 0;
        for (const paragraph of s.text.split(/\n\s*\n/)) {
          const start = s.text.indexOf(paragraph, at);
          at = start + paragraph.length;
          const hits = words.filter((w) => paragraph.toLowerCase().includes(w)).length;
          if (hits > 0) passages.push({ source_id: s.id, path: s.path, title: s.title, span: [start, at], score: hits / words.length, text: paragraph });
        }
      }
      return passages.sort((a, b) => (b.score ?? 0) - (a.score ?? 0)).slice(0, 8);
    },
    async codexSource(workspaceId, sourceId) {
      record("codex_source");
      const s = sources.get(sourceId);
      if (!s || s.workspace_id !== workspaceId) throw notFound("Codex source", sourceId);
      return clone(s);
    },
    async ask(requestId, question, onChunk: Channel<AskChunk>) {
      record("ask");
      if (!question.prompt.trim()) throw invalid("prompt", "prompt: type a question first");
      let stopped = false;
      asking.set(requestId, () => (stopped = true));
      const words = backend.answer.split(/(?<= )/);
      let text = "";
      for (const word of words) {
        if (stopped) break;
        text += word;
        onChunk.onmessage({ kind: "text", text: word });
        await new Promise((resolve) => setTimeout(resolve, backend.wordDelayMs));
      }
      asking.delete(requestId);
      const tokens = text.split(" ").length;
      return {
        text,
        provider: "local",
        model: "smollm2-360m-instruct-q8_0",
        cost_micro_usd: 0,
        input_tokens: question.prompt.split(" ").length,
        output_tokens: tokens,
        cancelled: stopped,
        from_cache: false,
      };
    },
    async settingsShow() {
      record("settings_show");
      return clone(settings);
    },
    async threadsShow() {
      record("threads_show");
      return { saved: threads, in_use: 2, cores: 2 };
    },
    async threadsSet(n) {
      record("threads_set");
      if (n !== null && (n < 1 || n > 256)) throw invalid("threads", `threads: must be between 1 and 256, got ${n}`);
      threads = n;
      return { saved: threads, in_use: 2, cores: 2 };
    },
    async privacySet(mode) {
      record("privacy_set");
      settings = { ...settings, privacy: mode };
      return clone(settings);
    },
    async providerAdd(form, key) {
      record("provider_add");
      if (!/^[a-z0-9_-]{1,40}$/.test(form.name)) throw invalid("provider name", `provider name: '${form.name}': use 1 to 40 lower-case letters, digits, - or _`);
      if (settings.providers.some((p) => p.name === form.name)) throw { kind: "conflict", message: `a provider named ${form.name} exists`, field: "provider name" };
      // Like the engine: the key goes to the keyring; only its presence is kept here.
      settings.providers.push({ name: form.name, kind: form.kind, base_url: form.base_url, model: form.model, tier: form.tier, has_key: !!key && key.trim() !== "" });
      return clone(settings);
    },
    async providerSetKey(name, key) {
      record("provider_set_key");
      const provider = settings.providers.find((p) => p.name === name);
      if (!provider) throw notFound("provider", name);
      if (!key.trim()) throw invalid("api key", "api key: paste the key first");
      provider.has_key = true;
      return clone(settings);
    },
    async providerRemove(name) {
      record("provider_remove");
      settings.providers = settings.providers.filter((p) => p.name !== name);
      return clone(settings);
    },
    async signalsList(workspaceId) {
      record("signals_list");
      workspace(workspaceId);
      return [...(signals.get(workspaceId) ?? new Map()).entries()].map(([series, days]) => {
        const sorted = [...days.keys()].sort();
        return { series, points: sorted.length, first_day: sorted[0]!, last_day: sorted[sorted.length - 1]!, last_value: days.get(sorted[sorted.length - 1]!)! };
      });
    },
    async signalShow(workspaceId, series) {
      record("signal_show");
      const days = signals.get(workspaceId)?.get(series);
      if (!days) throw notFound("series", series);
      const sorted = [...days.keys()].sort();
      const values = sorted.map((d) => days.get(d)!);
      // Not the engine's models: the mean of the last week, two standard
      // deviations either side, enough for the chart.
      const last = values.slice(-7);
      const mean = last.reduce((a, b) => a + b, 0) / last.length;
      const sd = Math.sqrt(last.reduce((a, b) => a + (b - mean) ** 2, 0) / last.length) || 1;
      const chart: SignalChart = {
        series,
        days: sorted,
        values,
        forecast_days: Array.from({ length: 14 }, (_, i) => day(i + 1)),
        forecast: Array.from({ length: 14 }, () => mean),
        lower: Array.from({ length: 14 }, () => mean - 2 * sd),
        upper: Array.from({ length: 14 }, () => mean + 2 * sd),
        level: 0.8,
        model: "MSTL(7) + AutoETS",
        change_points: sorted.length > 20 ? [{ day: sorted[sorted.length - 20]!, mean_before: values[0]!, mean_after: mean }] : [],
        anomalies: [],
        summary: [`${series} is expected at ${mean.toFixed(1)} by ${day(14)} (80 % interval ${(mean - 2 * sd).toFixed(1)} to ${(mean + 2 * sd).toFixed(1)}; MSTL(7) + AutoETS)`],
      };
      return chart;
    },
    async signalsFetch(workspaceId) {
      record("signals_fetch");
      const w = workspace(workspaceId);
      const news = connectors.filter((c) => (c.name === "newsapi" || c.name === "brave") && c.configured && c.has_key);
      if (news.length === 0) {
        throw invalid("connector", "no news connector is configured, so there is nothing to fetch: add one with `raptorflow connectors add newsapi --key-stdin` (or brave)");
      }
      const series = signals.get(workspaceId) ?? new Map<string, Map<string, number>>();
      signals.set(workspaceId, series);
      const subject = w.brand.company || w.name;
      const name = `mentions/newsapi/${subject}`;
      // The first fetch brings a month of history (as if the app had swept
      // daily), with a rise three weeks ago.
      const known = series.get(name) ?? new Map<string, number>();
      for (let back = 30; back >= 0; back--) if (!known.has(day(-back))) known.set(day(-back), (back > 20 ? 3 : 12) + (back % 3));
      series.set(name, known);
      return { recorded: 1, calls_sent: news.length, cache_hits: 0, cost_micro_usd: 1796, problems: [] };
    },
    async costShow(workspaceId, month) {
      record("cost_show");
      workspace(workspaceId);
      const line = (key: string, cost: number, calls: number) => ({ key, calls, cache_hits: 0, input_tokens: 40 * calls, output_tokens: 60 * calls, cost_micro_usd: cost });
      const days = [line("2026-12-01", 1_200, 3), line("2026-12-02", 450, 1)];
      return {
        workspace_id: workspaceId,
        month,
        total: line("total", 1_650, 4),
        by_day: days,
        by_model: [line("gpt-4o-mini", 1_650, 2), line("smollm2-360m-instruct-q8_0", 0, 2)],
        by_agent: [line("(no agent)", 1_650, 4)],
        budget_micro_usd: budgets.get(workspaceId) ?? 0,
        spent_this_month_micro_usd: 1_650,
      };
    },
    async budgetSet(workspaceId, monthlyUsd) {
      record("budget_set");
      if (!/^\d+(\.\d{1,6})?$/.test(monthlyUsd.trim())) throw invalid("budget", `budget: '${monthlyUsd}' is not an amount such as 50 or 12.50`);
      budgets.set(workspaceId, Math.round(Number(monthlyUsd) * 1_000_000));
      return commands.costShow(workspaceId, null);
    },
    async modelList() {
      record("model_list");
      return clone(models);
    },
    async modelUse(modelId) {
      record("model_use");
      const chosen = modelId === null ? models.find((m) => m.kind === "llm" && m.installed && m.default_for.includes("llm")) : models.find((m) => m.id === modelId);
      if (modelId !== null && !chosen) throw notFound("model", modelId);
      if (chosen && (!chosen.installed || chosen.kind !== "llm")) throw invalid("model id", `model ${chosen.id} is not an installed language model`);
      for (const m of models) m.in_use = m === chosen;
      return clone(models);
    },
    async modelFetch(modelId) {
      record("model_fetch");
      const model = models.find((m) => m.id === modelId);
      if (!model) throw notFound("model", modelId);
      let cancelled = false;
      downloads.set(modelId, () => (cancelled = true));
      const steps = 10;
      for (let i = 1; i <= steps && !cancelled; i++) {
        await backend.changed({ event: "model_download", model: modelId, file: "model.gguf", done: (model.size_bytes * i) / steps, total: model.size_bytes });
        await new Promise((resolve) => setTimeout(resolve, backend.wordDelayMs));
      }
      downloads.delete(modelId);
      if (cancelled) return false;
      model.installed = true;
      await backend.changed({ event: "model_installed", model: modelId });
      return true;
    },
    async modelCancel(modelId) {
      record("model_cancel");
      const cancel = downloads.get(modelId);
      cancel?.();
      return cancel !== undefined;
    },
    async modelImport(path) {
      record("model_import");
      if (!path.endsWith(".gguf")) throw invalid("model file", `model file: ${path} is not a GGUF file`);
      const id = path.split("/").pop()!.replace(/\.gguf$/, "");
      models.push({ id, name: id, kind: "llm", size_bytes: 1_000_000, installed: true, default_for: [], license: "unknown", in_use: false });
      return id;
    },
    async syncStatus() {
      record("sync_status");
      return clone([...joined.values()]);
    },
    async syncJoin(server, token, shareWorkspaceId) {
      record("sync_join");
      if (!server.trim()) throw invalid("server", "server: type the server's address, e.g. https://sync.example.com");
      if (!token.trim()) throw invalid("token", "token: paste the token your server's admin gave you");
      // One fake server answers: it holds FAKE_SYNC_DOCUMENTS documents.
      if (server !== FAKE_SYNC_SERVER || !shareWorkspaceId) {
        throw { kind: "network", message: `could not reach ${server} (the fake backend's only sync server is ${FAKE_SYNC_SERVER}; shared: ${shareWorkspaceId ?? "none"})`, field: null };
      }
      const w = workspace(shareWorkspaceId);
      await syncDocuments(shareWorkspaceId, server);
      joined.set(shareWorkspaceId, { workspace_id: shareWorkspaceId, server, user: "me", role: "owner", last_sync_at: now(), last_error: null, token_in_keyring: true });
      return { workspace_id: shareWorkspaceId, workspace_name: w.name, server, user: "me", role: "owner", shared_local_workspace: true, n_documents: FAKE_SYNC_DOCUMENTS, n_synced: FAKE_SYNC_DOCUMENTS };
    },
    async syncNow(workspaceId) {
      record("sync_now");
      const row = joined.get(workspaceId);
      if (!row) throw { kind: "not_found", message: `workspace ${workspaceId} has not joined a sync server`, field: "workspace id" };
      await syncDocuments(workspaceId, row.server);
      row.last_sync_at = now();
      return clone([...joined.values()]);
    },
    async memberSetRole(workspaceId, user, role) {
      record("member_set_role");
      const w = workspace(workspaceId);
      const member = w.members[user];
      if (!member) throw notFound("member", user);
      member.role = role;
      return clone(w);
    },
    async uiReady() {
      record("ui_ready");
      return 0;
    },
    async askStop(requestId) {
      record("ask_stop");
      const stop = asking.get(requestId);
      stop?.();
      return stop !== undefined;
    },
  };

  const backend: FakeBackend = {
    commands,
    swarm,
    calls,
    files: new Map(),
    dialogAnswer: [],
    answer: "Lead with the outcome your buyers want, then show the proof.",
    wordDelayMs: 30,
    changed: (event) => emit("core-event", event),
    dropFiles: (paths) => emit("tauri://drag-drop", { paths, position: { x: 10, y: 10 } }),
    async setMoveStatusElsewhere(moveId, status) {
      const c = findMove(moveId);
      c.moves[moveId]!.status = status;
      await changedCampaign(c);
    },
  };
  return backend;
}

const camel = (cmd: string) => cmd.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

/**
 * Answers the window's IPC with `backend`: each command by its generated
 * name (arguments arrive in the order the bindings list them), the event
 * plugin in memory, the open-file dialog with `backend.dialogAnswer`.
 */
export function installFake(backend: FakeBackend = createFakeBackend()): FakeBackend {
  mockWindows("main");
  mockIPC(
    (cmd, payload) => {
      if (cmd === "plugin:dialog|open") return backend.dialogAnswer.length > 0 ? [...backend.dialogAnswer] : null;
      const handler = (backend.commands as unknown as Record<string, (...args: unknown[]) => unknown>)[camel(cmd)];
      if (!handler) throw { kind: "internal", message: `the fake backend has no command ${cmd}`, field: null };
      const args = payload && !Array.isArray(payload) && !(payload instanceof ArrayBuffer) && !(payload instanceof Uint8Array) ? Object.values(payload) : [];
      return handler(...args);
    },
    { shouldMockEvents: true },
  );
  return backend;
}
