// What the asset editor knows about each kind of asset: its fields, the
// platforms' character limits (shown as live counts), a blank asset, and
// which of Guardian's findings belong to which field.
import type { AssetContent, AssetKind, GuardianFinding } from "./bindings";

export interface FieldSpec {
  /** The content field, e.g. `headlines`. */
  name: string;
  label: string;
  /** A list of texts (a responsive search ad's headlines). */
  list?: { min: number; max: number };
  multiline?: boolean;
  /** The platform's limit in characters, when it has one. */
  limit?: number;
  /** Optional fields may be left empty. */
  optional?: boolean;
  number?: boolean;
}

// Limits from the platforms' published specs (the Guardian packs in
// crates/rf-guardian carry the authoritative rules; these are the counters).
export const FIELDS: Record<AssetKind, FieldSpec[]> = {
  google_rsa: [
    { name: "headlines", label: "Headline", list: { min: 3, max: 15 }, limit: 30 },
    { name: "descriptions", label: "Description", list: { min: 2, max: 4 }, limit: 90 },
    { name: "paths", label: "Display path", list: { min: 0, max: 2 }, limit: 15 },
    { name: "final_url", label: "Final URL" },
  ],
  meta_ad: [
    { name: "primary_text", label: "Primary text", multiline: true, limit: 125 },
    { name: "headline", label: "Headline", limit: 40 },
    { name: "description", label: "Description", limit: 30 },
    { name: "call_to_action", label: "Call to action" },
  ],
  linkedin_ad: [
    { name: "intro_text", label: "Introductory text", multiline: true, limit: 600 },
    { name: "headline", label: "Headline", limit: 200 },
    { name: "description", label: "Description", limit: 300, optional: true },
    { name: "call_to_action", label: "Call to action" },
  ],
  x_post: [{ name: "text", label: "Post", multiline: true, limit: 280 }],
  linkedin_post: [{ name: "text", label: "Post", multiline: true, limit: 3000 }],
  email: [
    { name: "subject", label: "Subject", limit: 60 },
    { name: "preheader", label: "Preheader", limit: 100 },
    { name: "body", label: "Body", multiline: true },
  ],
  blog_post: [
    { name: "title", label: "Title", limit: 60 },
    { name: "meta_description", label: "Meta description", limit: 160 },
    { name: "body_markdown", label: "Body (Markdown)", multiline: true },
  ],
  video_script: [
    { name: "title", label: "Title" },
    { name: "duration_seconds", label: "Length in seconds", number: true },
  ],
  image_brief: [
    { name: "concept", label: "Concept", multiline: true },
    { name: "aspect_ratio", label: "Aspect ratio" },
    { name: "alt_text", label: "Alt text", limit: 125 },
  ],
};

/** A new asset of `kind` with every field empty (lists at their minimum). */
export function emptyContent(kind: AssetKind): AssetContent {
  const content: Record<string, unknown> = { kind };
  for (const field of FIELDS[kind]) {
    if (field.list) content[field.name] = Array.from({ length: field.list.min }, () => "");
    else if (field.number) content[field.name] = 0;
    else content[field.name] = "";
  }
  if (kind === "meta_ad") content.special_ad_category = null;
  if (kind === "video_script") content.scenes = [];
  return content as AssetContent;
}

/** Characters as people count them: code points of the NFC form. */
export function countChars(text: string): number {
  return [...text.normalize("NFC")].length;
}

/** `12 / 30`, and whether the text is over its limit. */
export function counter(text: string, limit: number | undefined): { label: string; over: boolean } {
  const n = countChars(text);
  return limit === undefined ? { label: `${n} characters`, over: false } : { label: `${n} / ${limit}`, over: n > limit };
}

/** The value of a field (a text, a list or a number). */
export function fieldValue(content: AssetContent, name: string): unknown {
  return (content as unknown as Record<string, unknown>)[name];
}

/** `content` with field `name` (item `index` of a list) set to `value`. */
export function withField(content: AssetContent, name: string, value: string | number, index?: number): AssetContent {
  const copy = structuredClone(content) as unknown as Record<string, unknown>;
  if (index === undefined) copy[name] = value;
  else {
    const list = [...((copy[name] as string[] | undefined) ?? [])];
    list[index] = String(value);
    copy[name] = list;
  }
  return copy as unknown as AssetContent;
}

/** `content` with an item added to or removed from a list field. */
export function withListLength(content: AssetContent, name: string, length: number): AssetContent {
  const copy = structuredClone(content) as unknown as Record<string, unknown>;
  const list = [...((copy[name] as string[] | undefined) ?? [])].slice(0, length);
  while (list.length < length) list.push("");
  copy[name] = list;
  return copy as unknown as AssetContent;
}

/** The findings about field `name` (item `index` of a list). */
export function findingsFor(findings: GuardianFinding[], name: string, index?: number): GuardianFinding[] {
  const key = index === undefined ? name : `${name}[${index}]`;
  return findings.filter((f) => f.field === key);
}

/** The findings about the asset as a whole or about no field the form shows. */
export function generalFindings(findings: GuardianFinding[], kind: AssetKind): GuardianFinding[] {
  // A field the form shows takes its findings; a list takes those about
  // its items, and those about the list as a whole (too few headlines)
  // are general.
  const inline = new Set<string>();
  for (const field of FIELDS[kind]) {
    if (!field.list) inline.add(field.name);
  }
  const lists = FIELDS[kind].filter((field) => field.list).map((field) => field.name);
  return findings.filter((f) => !(inline.has(f.field) || lists.some((name) => new RegExp(`^${name}\\[\\d+\\]$`).test(f.field))));
}
