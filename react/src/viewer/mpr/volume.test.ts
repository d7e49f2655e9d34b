import { describe, expect, it } from "vitest";

import type { DicomJson } from "../dicomweb";
import { volumeIdFor, volumeProblem } from "./volume";

const AXIAL = [1, 0, 0, 0, 1, 0];

/** A slice as WADO-RS metadata: 64x64 pixels of 0.5 mm, at `position`. */
function slice(number: number, position: number[], orientation = AXIAL, extra: DicomJson = {}): DicomJson {
  return {
    "00080018": { vr: "UI", Value: [`1.2.3.${number}`] },
    "00200013": { vr: "IS", Value: [number] },
    "00200032": { vr: "DS", Value: position },
    "00200037": { vr: "DS", Value: orientation },
    "00280010": { vr: "US", Value: [64] },
    "00280011": { vr: "US", Value: [64] },
    "00280030": { vr: "DS", Value: [0.5, 0.5] },
    ...extra,
  };
}

/** `count` axial slices 2 mm apart, listed in reverse (the order must not matter). */
const stack = (count: number) => Array.from({ length: count }, (_, index) => slice(index + 1, [0, 0, 2 * index])).reverse();

describe("whether a series is a volume", () => {
  it("takes parallel, evenly spaced slices of one size, in any order", () => {
    expect(volumeProblem(stack(3))).toBeNull();
    expect(volumeProblem(stack(40))).toBeNull();
  });

  it("takes rounding in positions and direction cosines", () => {
    const slices = [slice(1, [0, 0, 0]), slice(2, [0.001, 0, 2.02], [1, 0, 0, 0, 0.99995, 0.0001]), slice(3, [0, 0, 3.98])];
    expect(volumeProblem(slices)).toBeNull();
  });

  it("takes an oblique stack whose positions follow its own normal", () => {
    const s = Math.SQRT1_2; // rows along x, columns along (0, 1, 1)/√2: the normal is (0, -1, 1)/√2
    const oblique = [1, 0, 0, 0, s, s];
    const slices = [0, 1, 2, 3].map((index) => slice(index + 1, [5, -3 * s * index, 3 * s * index], oblique));
    expect(volumeProblem(slices)).toBeNull();
  });

  it("refuses fewer than three slices", () => {
    expect(volumeProblem(stack(2))).toEqual({ kind: "tooFew", count: 2 });
    expect(volumeProblem([])).toEqual({ kind: "tooFew", count: 0 });
  });

  it("refuses multi-frame instances (their positions are per frame)", () => {
    expect(volumeProblem([slice(1, [0, 0, 0], AXIAL, { "00280008": { vr: "IS", Value: [30] } })])).toEqual({ kind: "multiFrame" });
  });

  it("refuses a slice without position or orientation", () => {
    const slices = stack(4);
    delete slices[1]["00200032"];
    expect(volumeProblem(slices)).toEqual({ kind: "noGeometry", image: 3 });
  });

  it("refuses slices of another size or pixel spacing", () => {
    const slices = stack(4);
    slices[1]["00280010"] = { vr: "US", Value: [128] };
    expect(volumeProblem(slices)).toEqual({ kind: "size", image: 3, reference: 4 });
    const spaced = stack(4);
    spaced[2]["00280030"] = { vr: "DS", Value: [0.7, 0.7] };
    expect(volumeProblem(spaced)).toEqual({ kind: "size", image: 2, reference: 4 });
  });

  it("refuses slices in differing orientations (a localiser in the series)", () => {
    const slices = [...stack(4), slice(9, [0, 0, 0], [0, 1, 0, 0, 0, -1])];
    expect(volumeProblem(slices)).toEqual({ kind: "orientation", image: 9, reference: 4 });
  });

  it("refuses uneven spacing beyond the tolerance: a missing slice", () => {
    const slices = stack(6).filter((item) => item["00200013"]!.Value![0] !== 4);
    expect(volumeProblem(slices)).toEqual({ kind: "spacing", image: 3, gap: 4, expected: 2 });
  });

  it("refuses two slices at one position", () => {
    expect(volumeProblem([...stack(4), slice(7, [0, 0, 2])])).toMatchObject({ kind: "samePosition" });
  });

  it("refuses slices shifted sideways (a gantry tilt)", () => {
    const tilted = [0, 1, 2, 3].map((index) => slice(index + 1, [0, 0.5 * index, 2 * index]));
    expect(volumeProblem(tilted)).toEqual({ kind: "tilted", image: 1 });
  });

  it("names the volume for Cornerstone's streaming loader", () => {
    expect(volumeIdFor("1.2.3")).toBe("cornerstoneStreamingImageVolume:1.2.3");
  });
});
