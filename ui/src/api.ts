// The engine as the interface calls it. `tauriEngine` calls the Tauri
// commands of src-tauri; tests pass a fake with the same shape.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";

import type { Campaign, CampaignSummary, MoveSaved, MoveStatus, NewCampaign, NewMove, WorkspaceSummary } from "./types";

export interface Engine {
  workspaceList(): Promise<WorkspaceSummary[]>;
  // The new workspace (its whole index; the screens use its id and name).
  workspaceCreate(name: string): Promise<{ id: string; name: string }>;
  campaignList(workspaceId: string): Promise<CampaignSummary[]>;
  campaignCreate(workspaceId: string, campaign: NewCampaign): Promise<Campaign>;
  campaignShow(campaignId: string): Promise<Campaign>;
  moveAdd(campaignId: string, move: NewMove): Promise<MoveSaved>;
  moveSetStatus(moveId: string, status: MoveStatus): Promise<MoveSaved>;
  /**
   * Calls `listener` whenever the engine's data changes, whoever changed it
   * (this window, the CLI, a teammate through sync); returns the unsubscribe.
   */
  onChange(listener: () => void): Promise<() => void>;
}

export const tauriEngine: Engine = {
  workspaceList: () => invoke("workspace_list"),
  workspaceCreate: (name) => invoke("workspace_create", { name }),
  campaignList: (workspaceId) => invoke("campaign_list", { workspaceId }),
  campaignCreate: (workspaceId, campaign) => invoke("campaign_create", { workspaceId, campaign }),
  campaignShow: (campaignId) => invoke("campaign_show", { campaignId }),
  moveAdd: (campaignId, move) => invoke("move_add", { campaignId, move }),
  moveSetStatus: (moveId, status) => invoke("move_set_status", { moveId, status }),
  onChange: (listener) => listen("core-event", () => listener()),
};
