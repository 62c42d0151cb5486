// The engine's types as the interface sees them (rf-core and rf-domain
// serialise these over Tauri's IPC). Ids are strings; timestamps are
// milliseconds since the epoch; money is in minor units (cents).
import type { MoveStatus } from "./board";

export type { MoveStatus };
export type CampaignStatus = "draft" | "active" | "paused" | "completed" | "archived";
export type Channel = "google_ads" | "meta_ads" | "linkedin" | "x" | "email" | "blog" | "seo" | "video" | "events" | "pr";
export type Role = "owner" | "editor" | "viewer";

export const CHANNELS: Channel[] = ["google_ads", "meta_ads", "linkedin", "x", "email", "blog", "seo", "video", "events", "pr"];

export interface WorkspaceSummary {
  id: string;
  name: string;
  created_at: number;
  n_members: number;
  n_campaigns: number;
}

export interface CampaignSummary {
  id: string;
  name: string;
  status: CampaignStatus;
  created_at: number;
}

export interface Budget {
  amount_minor: number;
  currency: string;
}

export interface Move {
  title: string;
  channel: Channel;
  status: MoveStatus;
  owner: string | null;
  due_date: string | null;
  description: string;
  assets: string[];
  created_at: number;
}

export interface Campaign {
  id: string;
  workspace_id: string;
  name: string;
  goal: string;
  channels: Channel[];
  budget: Budget | null;
  status: CampaignStatus;
  created_at: number;
  start_date: string | null;
  end_date: string | null;
  moves: Record<string, Move>;
}

export interface NewCampaign {
  name: string;
  goal: string;
  channels: Channel[];
}

export interface NewMove {
  title: string;
  channel: Channel;
  due_date: string | null;
}

/** What a saved move comes back as. */
export interface MoveSaved {
  id: string;
  campaign_id: string;
  move: Move;
}
