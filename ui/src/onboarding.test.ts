import { describe, expect, it } from "vitest";

import { businessJson } from "./screens/Onboarding";

describe("the business file the intake form builds", () => {
  it("keeps only what was filled in, lists one per line", () => {
    const json = businessJson(
      { company: " Fernhill ", description: "Coffee by post", website: "", audiences: "Home workers\n\n Office managers \n", voice: " ", budget: "1200" },
      ["email"],
    );
    expect(JSON.parse(json)).toEqual({
      company: "Fernhill",
      description: "Coffee by post",
      audiences: ["Home workers", "Office managers"],
      channels: ["email"],
      monthly_budget_usd: 1200,
    });
  });

  it("passes a budget that is not a number on as text, for the engine to refuse by name", () => {
    expect(JSON.parse(businessJson({ company: "A", description: "B", budget: "lots" }, []))).toMatchObject({ monthly_budget_usd: "lots" });
  });
});
