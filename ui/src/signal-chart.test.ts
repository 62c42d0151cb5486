import { describe, expect, it } from "vitest";

import type { SignalChart } from "./bindings";
import { scales } from "./screens/SignalChart";

const chart: SignalChart = {
  series: "mentions/newsapi/Acme",
  days: ["2026-12-01", "2026-12-02", "2026-12-03"],
  values: [2, 4, 3],
  forecast_days: ["2026-12-04", "2026-12-05"],
  forecast: [3, 3.5],
  lower: [1, 0.5],
  upper: [5, 9],
  level: 0.8,
  model: "AutoETS",
  change_points: [],
  anomalies: [],
  summary: [],
};

describe("the signal chart's scales", () => {
  it("spans the measured days and the forecast, and the band's extremes", () => {
    const { days, lo, hi, x, y } = scales(chart);
    expect(days).toEqual([...chart.days, ...chart.forecast_days]);
    expect([lo, hi]).toEqual([0, 9]);
    // Left to right by day; higher values higher up (smaller y).
    expect(x(0)).toBeLessThan(x(4));
    expect(y(9)).toBeLessThan(y(0));
    expect(y(9)).toBe(32);
    expect(y(0)).toBe(220 - 32);
  });

  it("keeps a flat or empty series on the chart", () => {
    const flat = scales({ ...chart, values: [0, 0, 0], forecast: [], lower: [], upper: [], forecast_days: [] });
    expect(Number.isFinite(flat.y(0))).toBe(true);
    expect(flat.hi).toBe(1);
  });
});
