// Registering two stacks by slice position: each slice's position along the normal (mm), the slice
// nearest a position, and the offset between the two studies (prior mm - current mm) that scrolling keeps.
import { TAG, positionsAlongNormal, value } from "./dicomweb";
import type { DicomJson } from "./dicomweb";

export interface StackGeometry {
  /** One position per image id, in stack order; the slice numbers when the headers give no position. */
  positions: number[];
  frameOfReference?: string;
}

/** The geometry of a stack of `frames` images made from `sorted` instances (sortInstances' order). A
 * multi-frame instance has its positions per frame, which are not read here: its frames count as 1 mm apart. */
export function stackGeometry(sorted: DicomJson[], frames: number): StackGeometry {
  const positions = sorted.length === frames ? positionsAlongNormal(sorted) : null;
  return {
    positions: positions ?? Array.from({ length: frames }, (_, index) => index),
    frameOfReference: sorted[0] ? value(sorted[0], TAG.FrameOfReferenceUID) : undefined,
  };
}

/** The index of the slice nearest `position`; -1 for an empty stack. */
export function nearestSlice(positions: number[], position: number): number {
  let best = -1;
  for (let index = 0; index < positions.length; index++) {
    if (best < 0 || Math.abs(positions[index] - position) < Math.abs(positions[best] - position)) best = index;
  }
  return best;
}

const span = (positions: number[]) => [Math.min(...positions), Math.max(...positions)];

/** Where registration starts: the same absolute position when both stacks share a frame of reference or
 * their positions overlap (a scanner's table coordinates rarely differ much between visits); otherwise
 * their middles aligned, for the reader to correct with "link here". */
export function initialOffset(current: StackGeometry, prior: StackGeometry): number {
  if (!current.positions.length || !prior.positions.length) return 0;
  const [a0, a1] = span(current.positions);
  const [b0, b1] = span(prior.positions);
  const shared = !!current.frameOfReference && current.frameOfReference === prior.frameOfReference;
  if (shared || (a0 <= b1 && b0 <= a1)) return 0;
  return (b0 + b1) / 2 - (a0 + a1) / 2;
}
