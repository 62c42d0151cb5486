// A signal's chart: the measured values as a line, the forecast as a dashed
// line inside its shaded interval band, change points as vertical rules and
// anomalies as red dots. Plain SVG, scaled to the data.
import { Text } from "@mantine/core";

import type { SignalChart as Chart } from "../bindings";

const WIDTH = 640;
const HEIGHT = 220;
const PAD = 32;

/** A value as sent (specta types f64 as `number | null`: a non-finite
 * number would arrive as null; the engine stores none). */
const n = (v: number | null | undefined) => v ?? 0;

/** Maps the chart's days and values to pixels. */
export function scales(chart: Chart) {
  const days = [...chart.days, ...chart.forecast_days];
  const values = [...chart.values, ...chart.lower, ...chart.upper, ...chart.forecast].map(n);
  const lo = Math.min(...values, 0);
  const hi = Math.max(...values, 1);
  const x = (i: number) => PAD + (days.length <= 1 ? 0 : (i * (WIDTH - 2 * PAD)) / (days.length - 1));
  const y = (v: number | null) => HEIGHT - PAD - ((n(v) - lo) * (HEIGHT - 2 * PAD)) / (hi - lo || 1);
  return { days, lo, hi, x, y };
}

export function SignalChart({ chart }: { chart: Chart }) {
  const { days, lo, hi, x, y } = scales(chart);
  const count = chart.values.length;
  const line = chart.values.map((v, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const band =
    chart.forecast.length > 0
      ? [
          ...chart.upper.map((v, i) => `${i === 0 ? "M" : "L"}${x(count + i).toFixed(1)},${y(v).toFixed(1)}`),
          ...[...chart.lower].reverse().map((v, i) => `L${x(count + chart.lower.length - 1 - i).toFixed(1)},${y(v).toFixed(1)}`),
          "Z",
        ].join(" ")
      : "";
  const forecast = chart.forecast.map((v, i) => `${i === 0 ? `M${x(count - 1).toFixed(1)},${y(chart.values[count - 1] ?? v).toFixed(1)} L` : "L"}${x(count + i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const dayIndex = (day: string) => days.indexOf(day);
  return (
    <figure style={{ margin: 0 }}>
      <svg width={WIDTH} height={HEIGHT} role="img" aria-label={`Chart of ${chart.series}`} style={{ maxWidth: "100%" }}>
        <line x1={PAD} x2={WIDTH - PAD} y1={HEIGHT - PAD} y2={HEIGHT - PAD} stroke="currentColor" strokeOpacity={0.3} />
        <text x={4} y={PAD} fontSize={10} fill="currentColor">
          {hi.toFixed(0)}
        </text>
        <text x={4} y={HEIGHT - PAD} fontSize={10} fill="currentColor">
          {lo.toFixed(0)}
        </text>
        <text x={PAD} y={HEIGHT - 8} fontSize={10} fill="currentColor">
          {days[0]}
        </text>
        <text x={WIDTH - PAD} y={HEIGHT - 8} fontSize={10} fill="currentColor" textAnchor="end">
          {days[days.length - 1]}
        </text>
        {band && <path d={band} fill="#4dabf7" fillOpacity={0.25} data-testid="forecast-band" />}
        <path d={line} fill="none" stroke="#1c7ed6" strokeWidth={1.5} data-testid="values" />
        {forecast && <path d={forecast} fill="none" stroke="#1c7ed6" strokeDasharray="4 3" data-testid="forecast" />}
        {chart.change_points.map((c) => (
          <line key={c.day} x1={x(dayIndex(c.day))} x2={x(dayIndex(c.day))} y1={PAD} y2={HEIGHT - PAD} stroke="#f08c00" data-testid="change-point">
            <title>{`Change point ${c.day}: ${n(c.mean_before).toFixed(1)} → ${n(c.mean_after).toFixed(1)}`}</title>
          </line>
        ))}
        {chart.anomalies.map((a) => (
          <circle key={a.day} cx={x(dayIndex(a.day))} cy={y(a.value)} r={4} fill="#e03131" data-testid="anomaly">
            <title>{`Anomaly ${a.day}: ${n(a.value).toFixed(1)}`}</title>
          </circle>
        ))}
      </svg>
      <figcaption>
        <Text size="xs" c="dimmed">
          {chart.model ? `Forecast ${chart.forecast_days.length} days (${chart.model}), shaded: ${Math.round(n(chart.level) * 100)} % interval` : "No forecast yet"}
        </Text>
      </figcaption>
    </figure>
  );
}
