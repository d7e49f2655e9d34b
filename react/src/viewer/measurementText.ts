// A saved measurement as text, for the study page. Apart from measurements.ts so that the page, which is in
// the first load, does not pull Cornerstone (which measurements.ts imports) out of the lazy viewer chunk.
import type { SavedMeasurement } from "../api/types";

/** A measurement's values as a line of text: "12.3 mm" or "78.5 mm² · mean 412.0". */
export function measurementText(measurement: SavedMeasurement, meanLabel: string): string {
  if (measurement.kind === "length") return `${(measurement.length_mm ?? 0).toFixed(1)} mm`;
  const unit = measurement.mean_unit === "[hnsf'U]" ? " HU" : "";
  return `${(measurement.area_mm2 ?? 0).toFixed(1)} mm² · ${meanLabel} ${(measurement.mean ?? 0).toFixed(1)}${unit}`;
}
