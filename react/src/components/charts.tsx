// Small SVG charts drawn from the numbers in an AI result (no charting library: two shapes are needed).
import { geneLabel } from "../api/ai";
import type { GeneWeight, KmCurve } from "../api/ai";

const PALETTE = ["#1c7ed6", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599"];

/** Kaplan-Meier survival curves as step functions, time on x (in the unit the label names), survival on y
 * drawn 0..1 and labelled in percent. */
export function KmChart({ curves, timeLabel, survivalLabel, width = 520, height = 300 }: { curves: KmCurve[]; timeLabel: string; survivalLabel: string; width?: number; height?: number }) {
  const margin = { top: 12, right: 16, bottom: 40, left: 48 };
  const w = width - margin.left - margin.right;
  const h = height - margin.top - margin.bottom;
  const maxTime = Math.max(1, ...curves.flatMap((curve) => curve.time));
  const x = (time: number) => (time / maxTime) * w;
  const y = (survival: number) => (1 - Math.max(0, Math.min(1, survival))) * h;
  const path = (curve: KmCurve) => {
    let d = `M0,${y(1)}`;
    let last = 1;
    curve.time.forEach((time, index) => {
      const survival = curve.survival[index];
      d += ` H${x(time).toFixed(1)} V${y(survival).toFixed(1)}`;
      last = survival;
    });
    return `${d} H${x(Math.max(...curve.time, 0)).toFixed(1)} V${y(last).toFixed(1)}`;
  };
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const timeTicks = Array.from({ length: 5 }, (_, index) => (maxTime * index) / 4);
  return (
    <svg width={width} height={height} role="img" aria-label={survivalLabel} data-testid="km-chart">
      <g transform={`translate(${margin.left},${margin.top})`}>
        {ticks.map((tick) => (
          <g key={tick}>
            <line x1={0} x2={w} y1={y(tick)} y2={y(tick)} stroke="#dee2e6" />
            <text x={-6} y={y(tick)} fontSize={11} textAnchor="end" dominantBaseline="middle">
              {`${tick * 100}%`}
            </text>
          </g>
        ))}
        {timeTicks.map((tick) => (
          <text key={tick} x={x(tick)} y={h + 16} fontSize={11} textAnchor="middle">
            {Math.round(tick * 10) / 10}
          </text>
        ))}
        <line x1={0} x2={w} y1={h} y2={h} stroke="#868e96" />
        <line x1={0} x2={0} y1={0} y2={h} stroke="#868e96" />
        {curves.map((curve, index) => (
          <path key={curve.name} d={path(curve)} fill="none" stroke={PALETTE[index % PALETTE.length]} strokeWidth={2} />
        ))}
        <text x={w / 2} y={h + 34} fontSize={12} textAnchor="middle">
          {timeLabel}
        </text>
        <text transform={`translate(-36,${h / 2}) rotate(-90)`} fontSize={12} textAnchor="middle">
          {survivalLabel}
        </text>
        {curves.map((curve, index) => (
          <g key={`legend-${curve.name}`} transform={`translate(${w - 140},${8 + index * 16})`}>
            <rect width={10} height={10} fill={PALETTE[index % PALETTE.length]} />
            <text x={14} y={9} fontSize={11}>
              {curve.name}
            </text>
          </g>
        ))}
      </g>
    </svg>
  );
}

/** Horizontal bars, signed values around a zero line (gene weights can be negative). */
export function BarChart({ rows, unit = "", width = 520, labelWidth = 120 }: { rows: { label: string; value: number }[]; unit?: string; width?: number; labelWidth?: number }) {
  const rowHeight = 22;
  const valueWidth = 70;
  const w = width - labelWidth - valueWidth;
  const max = Math.max(1e-9, ...rows.map((row) => Math.abs(row.value)));
  const hasNegative = rows.some((row) => row.value < 0);
  const zero = hasNegative ? w / 2 : 0;
  const scale = hasNegative ? w / 2 / max : w / max;
  return (
    <svg width={width} height={rows.length * rowHeight + 4} role="img" data-testid="bar-chart">
      {rows.map((row, index) => {
        const length = Math.abs(row.value) * scale;
        const xStart = labelWidth + (row.value < 0 ? zero - length : zero);
        return (
          <g key={row.label} transform={`translate(0,${index * rowHeight})`}>
            <text x={labelWidth - 6} y={rowHeight / 2 + 4} fontSize={12} textAnchor="end">
              {row.label}
            </text>
            <rect x={xStart} y={4} width={Math.max(1, length)} height={rowHeight - 8} fill={row.value < 0 ? "#2f9e44" : "#e8590c"} />
            <text x={labelWidth + w + 6} y={rowHeight / 2 + 4} fontSize={12}>
              {Number(row.value.toPrecision(3))}
              {unit}
            </text>
          </g>
        );
      })}
      {hasNegative && <line x1={labelWidth + zero} x2={labelWidth + zero} y1={0} y2={rows.length * rowHeight} stroke="#868e96" />}
    </svg>
  );
}

export function geneRows(genes: GeneWeight[]) {
  return genes.map((gene) => ({ label: geneLabel(gene), value: gene.weight }));
}

export interface DatedSeries {
  name: string;
  /** ISO dates (YYYY-MM-DD) with their values, in date order. */
  points: { date: string; value: number }[];
}

const DAY_MS = 86_400_000;

/** Values against calendar dates (x spaced by elapsed days, not by index), one line per series; each
 * axis is labelled with its unit by the caller (xLabel, yLabel). */
export function DatedLineChart({ series, xLabel, yLabel, width = 560, height = 300 }: { series: DatedSeries[]; xLabel: string; yLabel: string; width?: number; height?: number }) {
  const margin = { top: 12, right: 16, bottom: 56, left: 56 };
  const w = width - margin.left - margin.right;
  const h = height - margin.top - margin.bottom;
  const dates = [...new Set(series.flatMap((line) => line.points.map((point) => point.date)))].sort();
  const day = (date: string) => Date.parse(`${date}T00:00:00Z`) / DAY_MS;
  const first = dates.length ? day(dates[0]) : 0;
  const span = Math.max(1, dates.length ? day(dates[dates.length - 1]) - first : 1);
  // one date alone sits in the middle
  const x = (date: string) => (dates.length > 1 ? ((day(date) - first) / span) * w : w / 2);
  const maxValue = Math.max(1e-9, ...series.flatMap((line) => line.points.map((point) => point.value)));
  const top = niceCeiling(maxValue * 1.05); // a little room above the highest point
  const y = (value: number) => h - (value / top) * h;
  const valueTicks = Array.from({ length: 5 }, (_, index) => (top * index) / 4);
  return (
    <svg width={width} height={height} role="img" aria-label={yLabel} data-testid="dated-line-chart">
      <g transform={`translate(${margin.left},${margin.top})`}>
        {valueTicks.map((tick) => (
          <g key={tick}>
            <line x1={0} x2={w} y1={y(tick)} y2={y(tick)} stroke="#dee2e6" />
            <text x={-6} y={y(tick)} fontSize={11} textAnchor="end" dominantBaseline="middle">
              {Number(tick.toPrecision(3))}
            </text>
          </g>
        ))}
        {dates.map((date) => (
          <text key={date} x={x(date)} y={h + 16} fontSize={10} textAnchor="middle" data-testid="x-tick">
            {date}
          </text>
        ))}
        <line x1={0} x2={w} y1={h} y2={h} stroke="#868e96" />
        <line x1={0} x2={0} y1={0} y2={h} stroke="#868e96" />
        {series.map((line, index) => {
          const colour = PALETTE[index % PALETTE.length];
          const d = line.points.map((point, at) => `${at ? "L" : "M"}${x(point.date).toFixed(1)},${y(point.value).toFixed(1)}`).join(" ");
          return (
            <g key={line.name} data-testid={`series-${line.name}`}>
              <path d={d} fill="none" stroke={colour} strokeWidth={2} />
              {line.points.map((point, at) => (
                <circle key={`${point.date}-${at}`} cx={x(point.date)} cy={y(point.value)} r={3.5} fill={colour}>
                  <title>{`${line.name} ${point.date}: ${point.value}`}</title>
                </circle>
              ))}
            </g>
          );
        })}
        <text x={w / 2} y={h + 40} fontSize={12} textAnchor="middle">
          {xLabel}
        </text>
        <text transform={`translate(-42,${h / 2}) rotate(-90)`} fontSize={12} textAnchor="middle">
          {yLabel}
        </text>
        {series.map((line, index) => (
          <g key={`legend-${line.name}`} transform={`translate(${w - 120},${8 + index * 16})`}>
            <rect width={10} height={10} fill={PALETTE[index % PALETTE.length]} />
            <text x={14} y={9} fontSize={11}>
              {line.name}
            </text>
          </g>
        ))}
      </g>
    </svg>
  );
}

/** The smallest of 1, 2, 2.5, 5 x 10^k at or above `value` (round axis ends). */
export function niceCeiling(value: number) {
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((factor) => factor * power >= value * (1 - 1e-12)) ?? 10;
  return step * power;
}
