// Where each slice of a stack lies along its slice normal, so that panes can scroll together: a pane goes to
// its slice nearest to the position another pane shows. Positions are mm along the normal from
// ImageOrientationPatient (ImagePositionPatient projected on it); the normal's sign is made canonical, so a
// series acquired head-to-feet and one feet-to-head share one axis. A pane's `offsetMm` registers a series of
// another study (whose patient lay elsewhere in the scanner): its positions plus the offset are in the frame
// of the panes it is compared with.
import { TAG, sliceNormal } from "./dicomweb";
import type { DicomJson } from "./dicomweb";

export type Vector = [number, number, number];

export interface SliceGeometry {
  /** The unit slice normal, its largest component positive. */
  normal: Vector;
  /** mm along the normal, one per image of the stack, in the stack's order. */
  positions: number[];
}

/** A pane as sync sees it: its geometry, the slice shown and its registration offset. */
export interface PaneSlices {
  geometry: SliceGeometry | null;
  index: number;
  offsetMm?: number;
}

/** Normals closer than this (cosine) count as one axis: about 8 degrees. */
const SAME_AXIS = 0.99;

function numbers(item: DicomJson, tag: string, length: number): number[] | null {
  const values = item[tag]?.Value?.map(Number);
  return values?.length === length && values.every(Number.isFinite) ? values : null;
}

function canonical(vector: Vector): Vector {
  const length = Math.hypot(...vector);
  const largest = vector.reduce((best, value) => (Math.abs(value) > Math.abs(best) ? value : best), 0);
  const sign = largest < 0 ? -1 : 1;
  return vector.map((value) => (sign * value) / length + 0) as Vector; // + 0: no -0
}

/** The slice positions of single-frame instances in stack order; null when a position or the orientation is
 * missing, or an instance has several frames (their positions are per frame, not read here). */
export function slicePositions(instances: DicomJson[]): SliceGeometry | null {
  const orientation = instances[0] && numbers(instances[0], TAG.ImageOrientationPatient, 6);
  if (!orientation) return null;
  const cross = sliceNormal(orientation);
  if (Math.hypot(...cross) < 1e-6) return null;
  const normal = canonical(cross);
  const positions: number[] = [];
  for (const item of instances) {
    const position = numbers(item, TAG.ImagePositionPatient, 3);
    if (!position || Number(item[TAG.NumberOfFrames]?.Value?.[0] ?? 1) > 1) return null;
    positions.push(position[0] * normal[0] + position[1] * normal[1] + position[2] * normal[2]);
  }
  return { normal, positions };
}

/** The index of the position nearest to `target` (the first of equals). */
export function nearestSlice(positions: number[], target: number): number {
  let best = 0;
  for (let index = 1; index < positions.length; index++) {
    if (Math.abs(positions[index] - target) < Math.abs(positions[best] - target)) best = index;
  }
  return best;
}

/** Where a pane shows, in the shared frame (its own position plus its offset). */
export function sharedPosition(pane: PaneSlices): number | null {
  const position = pane.geometry?.positions[pane.index];
  return position === undefined ? null : position + (pane.offsetMm ?? 0);
}

export function sameAxis(a: SliceGeometry, b: SliceGeometry): boolean {
  return a.normal[0] * b.normal[0] + a.normal[1] * b.normal[1] + a.normal[2] * b.normal[2] > SAME_AXIS;
}

/** The slice `target` should show to follow `source`: nearest to the same position; null when either has no
 * geometry or they are cut along different axes (an axial and a sagittal series do not scroll together). */
export function followingSlice(source: PaneSlices, target: Omit<PaneSlices, "index">): number | null {
  const position = sharedPosition(source);
  if (position === null || !source.geometry || !target.geometry?.positions.length || !sameAxis(source.geometry, target.geometry)) return null;
  return nearestSlice(target.geometry.positions, position - (target.offsetMm ?? 0));
}

/** "Link here": the offset that puts `target`'s current slice at `source`'s current position. */
export function linkOffset(source: PaneSlices, target: PaneSlices): number | null {
  const position = sharedPosition(source);
  const own = target.geometry?.positions[target.index];
  return position === null || own === undefined ? null : position - own;
}

/** Where a prior study's registration starts (its `offsetMm` against the current study's pane): none, the same
 * absolute position, when both share a frame of reference or their positions overlap (a scanner's table
 * coordinates differ little between visits of one head); otherwise their middles aligned, for the reader
 * to correct with "link here". */
export function startingOffset(current: SliceGeometry, prior: SliceGeometry, sameFrame: boolean): number {
  const [a0, a1] = [Math.min(...current.positions), Math.max(...current.positions)];
  const [b0, b1] = [Math.min(...prior.positions), Math.max(...prior.positions)];
  if (sameFrame || !current.positions.length || !prior.positions.length || (a0 <= b1 && b0 <= a1)) return 0;
  return (a0 + a1) / 2 - (b0 + b1) / 2;
}
