import { FIELDS, counter, emptyContent, findingsFor, generalFindings, withField, withListLength } from "./assets";
import type { AssetKind, GuardianFinding } from "./bindings";
import { ASSET_KIND_LABELS } from "./types";
import { nextProgress } from "./screens/Codex";
import { formatCost } from "./screens/Ask";

const finding = (field: string): GuardianFinding => ({ category: "length", rule: "r", severity: "block", field, message: field, span: null });

describe("the asset editor's model", () => {
  it("counts characters as people do and flags what is over the limit", () => {
    expect(counter("Hello", 30)).toEqual({ label: "5 / 30", over: false });
    // One emoji and a decomposed é count as one character each.
    expect(counter("🚀 cafe\u0301", 6)).toEqual({ label: "6 / 6", over: false });
    expect(counter("x".repeat(281), 280)).toEqual({ label: "281 / 280", over: true });
    expect(counter("no limit here", undefined)).toEqual({ label: "13 characters", over: false });
  });

  it("starts every kind with its fields, lists at their minimum", () => {
    for (const kind of Object.keys(ASSET_KIND_LABELS) as AssetKind[]) {
      const content = emptyContent(kind) as unknown as Record<string, unknown>;
      expect(content.kind).toBe(kind);
      for (const field of FIELDS[kind]) expect(content).toHaveProperty(field.name);
    }
    const rsa = emptyContent("google_rsa");
    expect(rsa).toMatchObject({ headlines: ["", "", ""], descriptions: ["", ""], paths: [], final_url: "" });
  });

  it("edits one item of a list without touching the others, or the original", () => {
    const rsa = emptyContent("google_rsa");
    const edited = withField(rsa, "headlines", "Fast reports", 1);
    expect(edited).toMatchObject({ headlines: ["", "Fast reports", ""] });
    expect(rsa).toMatchObject({ headlines: ["", "", ""] });
    expect(withListLength(edited, "headlines", 4)).toMatchObject({ headlines: ["", "Fast reports", "", ""] });
    expect(withListLength(edited, "headlines", 2)).toMatchObject({ headlines: ["", "Fast reports"] });
  });

  it("puts each finding beside its field, and the rest above the form", () => {
    const findings = [finding("headlines[2]"), finding("final_url"), finding(""), finding("headlines")];
    expect(findingsFor(findings, "headlines", 2).map((f) => f.field)).toEqual(["headlines[2]"]);
    expect(findingsFor(findings, "headlines", 0)).toEqual([]);
    expect(findingsFor(findings, "final_url").map((f) => f.field)).toEqual(["final_url"]);
    expect(generalFindings(findings, "google_rsa").map((f) => f.field)).toEqual(["", "headlines"]);
  });
});

describe("import progress", () => {
  it("keeps one bar per file and moves the current one", () => {
    let files = nextProgress([], { kind: "file", index: 0, n_files: 2, path: "a.md" });
    files = nextProgress(files, { kind: "step", stage: "embedding", done: 1, total: 4 });
    files = nextProgress(files, { kind: "file", index: 1, n_files: 2, path: "b.md" });
    files = nextProgress(files, { kind: "step", stage: "splitting", done: 10, total: 20 });
    expect(files).toEqual([
      { path: "a.md", stage: "embedding", done: 1, total: 4 },
      { path: "b.md", stage: "splitting", done: 10, total: 20 },
    ]);
  });
});

describe("costs", () => {
  it("shows small calls with enough digits and free ones as $0", () => {
    expect(formatCost(0)).toBe("$0");
    expect(formatCost(1_250)).toBe("$0.001250");
    expect(formatCost(2_500_000)).toBe("$2.50");
  });
});

describe("budgets and sizes", () => {
  it("warns past 80 % of a budget and says when it is spent", async () => {
    const { budgetState } = await import("./screens/Costs");
    expect(budgetState(100, 0)).toEqual({ percent: 0, level: "none" });
    expect(budgetState(790, 1000).level).toBe("ok");
    expect(budgetState(800, 1000).level).toBe("warn");
    expect(budgetState(1000, 1000).level).toBe("over");
  });

  it("shows model sizes as people read them", async () => {
    const { formatSize } = await import("./screens/Models");
    expect(formatSize(90_900_000)).toBe("90.9 MB");
    expect(formatSize(1_250_000_000)).toBe("1.3 GB");
    expect(formatSize(300)).toBe("1 kB");
  });
});
