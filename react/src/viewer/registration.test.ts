import { describe, expect, it } from "vitest";

import type { DicomJson } from "./dicomweb";
import { followingSlice, linkOffset, nearestSlice, sameAxis, slicePositions } from "./registration";

const AXIAL = [1, 0, 0, 0, 1, 0];
const SAGITTAL = [0, 1, 0, 0, 0, -1];
const slice = (position: number[], orientation = AXIAL, frames?: number): DicomJson => ({
  "00200032": { vr: "DS", Value: position },
  "00200037": { vr: "DS", Value: orientation },
  ...(frames ? { "00280008": { vr: "IS", Value: [frames] } } : {}),
});
const stack = (zs: number[], orientation = AXIAL) => zs.map((z) => slice([-120, -120, z], orientation));

describe("slicePositions", () => {
  it("projects each position on the slice normal", () => {
    expect(slicePositions(stack([10, 12.5, 15]))).toEqual({ normal: [0, 0, 1], positions: [10, 12.5, 15] });
  });

  it("gives opposite acquisitions one axis", () => {
    // rows and columns swapped: the cross product points the other way
    const geometry = slicePositions(stack([4, 2], [0, 1, 0, 1, 0, 0]));
    expect(geometry?.normal).toEqual([0, 0, 1]);
    expect(geometry?.positions).toEqual([4, 2]);
  });

  it("reads oblique and sagittal slices along their own normal", () => {
    const sagittal = slicePositions([slice([30, 0, 0], SAGITTAL), slice([33, 5, 7], SAGITTAL)]);
    expect(sagittal?.normal).toEqual([1, 0, 0]);
    expect(sagittal?.positions).toEqual([30, 33]);
    const tilted = slicePositions([slice([0, 0, 10], [1, 0, 0, 0, Math.SQRT1_2, -Math.SQRT1_2])]);
    expect(tilted?.positions[0]).toBeCloseTo(10 * Math.SQRT1_2);
  });

  it("knows nothing without positions, orientation, or of multi-frame instances", () => {
    expect(slicePositions([])).toBeNull();
    expect(slicePositions([{ "00200037": { vr: "DS", Value: AXIAL } }])).toBeNull();
    expect(slicePositions([{ "00200032": { vr: "DS", Value: [0, 0, 1] } }])).toBeNull();
    expect(slicePositions([slice([0, 0, 1], AXIAL, 20)])).toBeNull();
    expect(slicePositions([slice([0, 0, 1], [1, 0, 0, 1, 0, 0])])).toBeNull();
  });
});

describe("nearestSlice", () => {
  it("finds the nearest position, ascending or descending", () => {
    expect(nearestSlice([0, 5, 10, 15], 6.9)).toBe(1);
    expect(nearestSlice([0, 5, 10, 15], 7.6)).toBe(2);
    expect(nearestSlice([15, 10, 5, 0], 14)).toBe(0);
    expect(nearestSlice([0, 5], -40)).toBe(0);
    expect(nearestSlice([0, 5], 400)).toBe(1);
  });
});

describe("followingSlice", () => {
  const fine = { geometry: slicePositions(stack([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])) };
  const coarse = { geometry: slicePositions(stack([10, 5, 0])) }; // stored feet first

  it("goes to the slice nearest to the same position", () => {
    expect(followingSlice({ ...fine, index: 6 }, coarse)).toBe(1);
    expect(followingSlice({ ...fine, index: 9 }, coarse)).toBe(0);
    expect(followingSlice({ ...coarse, index: 2 }, fine)).toBe(0);
  });

  it("adds the panes' offsets (a prior study registered by hand)", () => {
    // the prior's slice at 0 mm shows what the current study has at 5 mm
    expect(followingSlice({ ...fine, index: 5 }, { ...coarse, offsetMm: 5 })).toBe(2);
    expect(followingSlice({ ...coarse, index: 2, offsetMm: 5 }, fine)).toBe(5);
  });

  it("leaves alone a pane cut along another axis or without geometry", () => {
    const sagittal = { geometry: slicePositions([slice([0, 0, 0], SAGITTAL)]) };
    expect(sameAxis(fine.geometry!, sagittal.geometry!)).toBe(false);
    expect(followingSlice({ ...fine, index: 1 }, sagittal)).toBeNull();
    expect(followingSlice({ ...fine, index: 1 }, { geometry: null })).toBeNull();
    expect(followingSlice({ geometry: null, index: 0 }, fine)).toBeNull();
  });
});

describe("linkOffset", () => {
  it("is the difference of the two current positions", () => {
    const current = { geometry: slicePositions(stack([0, 10, 20])), index: 2 };
    const prior = { geometry: slicePositions(stack([100, 110, 120])), index: 0 };
    const offset = linkOffset(current, prior);
    expect(offset).toBe(-80);
    expect(followingSlice(current, { ...prior, offsetMm: offset! })).toBe(0);
    expect(linkOffset(current, { geometry: null, index: 0 })).toBeNull();
  });
});
