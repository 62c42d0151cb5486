// An in-memory engine for the interface's tests. It keeps the engine's
// rules that the screens show (names required, errors as {kind, message,
// field}) and nothing else; the real engine is tested in Rust.
import type { Engine } from "./api";
import type { Campaign, CampaignSummary, Move, MoveSaved, WorkspaceSummary } from "./types";

export interface FakeEngine extends Engine {
  calls: string[];
  /** Tells the listeners that something changed, as another process would. */
  changed(): void;
  /** Sets a move's status behind the interface's back (as the CLI would). */
  setStatusElsewhere(moveId: string, status: Move["status"]): void;
}

export function fakeEngine(): FakeEngine {
  let next = 0;
  const id = () => `01900000-0000-7000-8000-${String(++next).padStart(12, "0")}`;
  const workspaces: WorkspaceSummary[] = [];
  const campaigns = new Map<string, Campaign>();
  const calls: string[] = [];
  const listeners = new Set<() => void>();
  const invalid = (field: string, message: string) => Promise.reject({ kind: "invalid_input", message, field });
  const findMove = (moveId: string): [Campaign, Move] | undefined => {
    for (const campaign of campaigns.values()) {
      const move = campaign.moves[moveId];
      if (move) return [campaign, move];
    }
    return undefined;
  };

  return {
    calls,
    changed() {
      for (const listener of listeners) listener();
    },
    setStatusElsewhere(moveId, status) {
      const found = findMove(moveId);
      if (found) found[1].status = status;
      for (const listener of listeners) listener();
    },
    async onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async workspaceList() {
      calls.push("workspace_list");
      return structuredClone(workspaces);
    },
    async workspaceCreate(name) {
      calls.push(`workspace_create ${name}`);
      if (name.trim() === "") return invalid("workspace name", "invalid workspace name: must not be empty");
      const ws = { id: id(), name: name.trim(), created_at: Date.now(), n_members: 1, n_campaigns: 0 };
      workspaces.push(ws);
      return structuredClone(ws);
    },
    async campaignList(workspaceId) {
      calls.push(`campaign_list ${workspaceId}`);
      return [...campaigns.values()]
        .filter((c) => c.workspace_id === workspaceId)
        .map((c): CampaignSummary => ({ id: c.id, name: c.name, status: c.status, created_at: c.created_at }));
    },
    async campaignCreate(workspaceId, campaign) {
      calls.push(`campaign_create ${campaign.name}`);
      if (campaign.name.trim() === "") return invalid("campaign name", "invalid campaign name: must not be empty");
      if (campaign.goal.trim() === "") return invalid("campaign goal", "invalid campaign goal: must not be empty");
      const created: Campaign = {
        id: id(),
        workspace_id: workspaceId,
        name: campaign.name,
        goal: campaign.goal,
        channels: campaign.channels,
        budget: null,
        status: "draft",
        created_at: Date.now(),
        start_date: null,
        end_date: null,
        moves: {},
      };
      campaigns.set(created.id, created);
      const ws = workspaces.find((w) => w.id === workspaceId);
      if (ws) ws.n_campaigns += 1;
      return structuredClone(created);
    },
    async campaignShow(campaignId) {
      calls.push(`campaign_show ${campaignId}`);
      const campaign = campaigns.get(campaignId);
      if (!campaign) return Promise.reject({ kind: "not_found", message: `no campaign ${campaignId}` });
      return structuredClone(campaign);
    },
    async moveAdd(campaignId, move) {
      calls.push(`move_add ${move.title}`);
      const campaign = campaigns.get(campaignId);
      if (!campaign) return Promise.reject({ kind: "not_found", message: `no campaign ${campaignId}` });
      if (move.title.trim() === "") return invalid("move title", "invalid move title: must not be empty");
      const moveId = id();
      const saved: Move = { ...move, status: "planned", owner: null, description: "", assets: [], created_at: Date.now() };
      campaign.moves[moveId] = saved;
      return structuredClone({ id: moveId, campaign_id: campaignId, move: saved });
    },
    async moveSetStatus(moveId, status): Promise<MoveSaved> {
      calls.push(`move_set_status ${status}`);
      const found = findMove(moveId);
      if (!found) return Promise.reject({ kind: "not_found", message: `no move ${moveId}` });
      found[1].status = status;
      return structuredClone({ id: moveId, campaign_id: found[0].id, move: found[1] });
    },
  };
}
