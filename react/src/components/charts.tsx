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
