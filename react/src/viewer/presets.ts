// Window presets: the image's own window (its DICOM WindowCenter/Width), the full range of the image's pixels,
// and by modality the usual CT windows (width/level in HU) or, for MR, a narrower "high contrast" window.
export interface VoiRange {
  lower: number;
  upper: number;
}

export type PresetKey = "image" | "fullRange" | "highContrast" | "brain" | "subdural" | "stroke" | "bone";

/** CT windows as [width, level]. */
const CT_WINDOWS: Partial<Record<PresetKey, [number, number]>> = {
  brain: [80, 40],
  subdural: [215, 75],
  stroke: [40, 40],
  bone: [2800, 600],
};

export function presetsFor(modality: string | undefined): PresetKey[] {
  if (modality === "CT") return ["image", "fullRange", "brain", "subdural", "stroke", "bone"];
  if (modality === "MR") return ["image", "fullRange", "highContrast"];
  return ["image", "fullRange"];
}

export function fromWindow(width: number, level: number): VoiRange {
  return { lower: level - width / 2, upper: level + width / 2 };
}

/** The range a preset sets given the image's pixel range (min, max after the modality LUT); null for "image",
 * which is the image's own window (a reset of the VOI). */
export function presetRange(key: PresetKey, pixels: { min: number; max: number }): VoiRange | null {
  const ct = CT_WINDOWS[key];
  if (ct) return fromWindow(...ct);
  if (key !== "fullRange" && key !== "highContrast") return null;
  const span = Math.max(pixels.max - pixels.min, 1); // a flat image still gets a window one unit wide
  const margin = key === "highContrast" ? span / 4 : 0;
  return { lower: pixels.min + margin, upper: pixels.min + span - margin };
}

/** "W 80 L 40" for a data attribute and the tests. */
export function windowText(range: VoiRange | undefined): string {
  if (!range) return "";
  return `W ${Math.round(range.upper - range.lower)} L ${Math.round((range.upper + range.lower) / 2)}`;
}

/** The part of a stack viewport a preset uses. */
interface WindowedViewport {
  getCornerstoneImage: () => { minPixelValue?: number; maxPixelValue?: number } | undefined;
  setProperties: (properties: { voiRange?: VoiRange }) => void;
  resetProperties: () => void;
  render: () => void;
}

/** Apply a preset to a viewport, relative presets from the image it shows. */
export function applyPreset(viewport: WindowedViewport, key: PresetKey): void {
  const image = viewport.getCornerstoneImage();
  const range = presetRange(key, { min: image?.minPixelValue ?? 0, max: image?.maxPixelValue ?? 0 });
  if (range) viewport.setProperties({ voiRange: range });
  else viewport.resetProperties();
  viewport.render();
}
