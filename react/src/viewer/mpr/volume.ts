// Whether a series can be reformatted. Cornerstone's streaming volume takes the first slice's orientation and
// one spacing between slices for the whole stack, so slices that are not parallel, not evenly spaced or not
// of one size would be drawn in the wrong place: such a series is refused, with the reason, instead.
import { TAG, sliceNormal, sortInstances, value } from "../dicomweb";
import type { DicomJson } from "../dicomweb";

/** Direction cosines may differ in the last digits the modality wrote. */
const ORIENTATION_TOLERANCE = 1e-3;
/** Pixel spacings (mm) may differ by rounding. */
const PIXEL_SPACING_TOLERANCE = 1e-3;
/** A gap may differ from the usual one by this fraction (rounded positions), not by a missing slice. */
export const SPACING_TOLERANCE = 0.05;
/** Slices shifted sideways by more than this fraction of the gap (a gantry tilt) would come out sheared. */
export const SHEAR_TOLERANCE = 0.05;
/** Closer than this (mm) along the normal: two slices at one position (e.g. two acquisitions in one series). */
const SAME_POSITION_MM = 1e-3;

/** Why a series is not a volume. `image` is the InstanceNumber (or the place in the list without one) of the
 * first slice found wrong, `reference` the slice it was compared with; a gap is named by the slice before it,
 * in anatomical order. */
export type VolumeProblem =
  | { kind: "multiFrame" }
  | { kind: "tooFew"; count: number }
  | { kind: "noGeometry"; image: number }
  | { kind: "size"; image: number; reference: number }
  | { kind: "orientation"; image: number; reference: number }
  | { kind: "samePosition"; image: number }
  | { kind: "tilted"; image: number }
  | { kind: "spacing"; image: number; gap: number; expected: number };

export const MIN_SLICES = 3;

/** Cornerstone's streaming volume loader is chosen by the id's scheme. */
export function volumeIdFor(seriesUid: string): string {
  return `cornerstoneStreamingImageVolume:${seriesUid}`;
}

const numbers = (item: DicomJson, tag: string): number[] => (item[tag]?.Value ?? []).map(Number);
const allFinite = (list: number[], length: number) => list.length === length && list.every(Number.isFinite);
const differ = (a: number[], b: number[], tolerance: number) => a.length !== b.length || a.some((x, i) => Math.abs(x - b[i]) > tolerance);

/** The usual gap: the median, or of two middle ones the smaller (with two gaps, one of them a missing
 * slice, the smaller is the spacing and the larger the one to report). */
function usualGap(gaps: number[]): number {
  const sorted = [...gaps].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length / 2) - 1];
}

/** The first reason the instances of a series cannot be one volume, or null when they can. */
export function volumeProblem(instances: DicomJson[]): VolumeProblem | null {
  const label = (item: DicomJson) => Number(value(item, TAG.InstanceNumber) ?? instances.indexOf(item) + 1);
  if (instances.some((item) => Number(value(item, TAG.NumberOfFrames) ?? 1) > 1)) return { kind: "multiFrame" };
  if (instances.length < MIN_SLICES) return { kind: "tooFew", count: instances.length };

  const bare = instances.find(
    (item) => !allFinite(numbers(item, TAG.ImagePositionPatient), 3) || !allFinite(numbers(item, TAG.ImageOrientationPatient), 6),
  );
  if (bare) return { kind: "noGeometry", image: label(bare) };

  const [first] = instances;
  const sizeOf = (item: DicomJson) => [value<number>(item, TAG.Rows), value<number>(item, TAG.Columns)].map(Number);
  const resized = instances.find(
    (item) =>
      differ(sizeOf(item), sizeOf(first), 0) || differ(numbers(item, TAG.PixelSpacing), numbers(first, TAG.PixelSpacing), PIXEL_SPACING_TOLERANCE),
  );
  if (resized) return { kind: "size", image: label(resized), reference: label(first) };

  const orientation = numbers(first, TAG.ImageOrientationPatient);
  const turned = instances.find((item) => differ(numbers(item, TAG.ImageOrientationPatient), orientation, ORIENTATION_TOLERANCE));
  if (turned) return { kind: "orientation", image: label(turned), reference: label(first) };

  // all parallel now: sortInstances orders them along the common normal
  const normal = sliceNormal(orientation);
  const slices = sortInstances(instances);
  const steps = slices.slice(1).map((item, index) => {
    const delta = numbers(item, TAG.ImagePositionPatient).map((x, axis) => x - numbers(slices[index], TAG.ImagePositionPatient)[axis]);
    const gap = delta.reduce((sum, x, axis) => sum + x * normal[axis], 0);
    const sideways = Math.hypot(...delta.map((x, axis) => x - gap * normal[axis]));
    return { before: slices[index], gap, sideways };
  });
  const expected = usualGap(steps.map((step) => step.gap));
  for (const { before, gap, sideways } of steps) {
    if (gap < SAME_POSITION_MM) return { kind: "samePosition", image: label(before) };
    if (sideways > SHEAR_TOLERANCE * expected) return { kind: "tilted", image: label(before) };
    if (Math.abs(gap - expected) > SPACING_TOLERANCE * expected) return { kind: "spacing", image: label(before), gap, expected };
  }
  return null;
}
