// The engine's types the screens use, from the bindings generated from the
// Rust types (bindings.ts), and the closed sets as lists for pickers.
import type { AssetKind, MarketingChannel } from "./bindings";

export type {
  AssetContent,
  AssetKind,
  AssetStatus,
  AssetView,
  Campaign,
  CampaignStatus,
  CampaignSummary,
  GuardianFinding,
  MarketingChannel as Channel,
  Move,
  MoveSaved,
  Report,
  Role,
  WorkspaceIndex,
  WorkspaceSummary,
} from "./bindings";

// Records keyed by the unions: adding a value in Rust without adding it
// here is a type error.
const CHANNEL_LABELS: Record<MarketingChannel, string> = {
  google_ads: "Google Ads",
  meta_ads: "Meta ads",
  linkedin: "LinkedIn",
  x: "X",
  email: "Email",
  blog: "Blog",
  seo: "SEO",
  video: "Video",
  events: "Events",
  pr: "PR",
};
export const CHANNELS = Object.keys(CHANNEL_LABELS) as MarketingChannel[];
export const channelLabel = (channel: MarketingChannel) => CHANNEL_LABELS[channel];

export const ASSET_KIND_LABELS: Record<AssetKind, string> = {
  google_rsa: "Google responsive search ad",
  meta_ad: "Meta ad",
  linkedin_ad: "LinkedIn ad",
  x_post: "X post",
  linkedin_post: "LinkedIn post",
  email: "Email",
  blog_post: "Blog post",
  video_script: "Video script",
  image_brief: "Image brief",
};
