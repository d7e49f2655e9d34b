import { beforeEach, describe, expect, it, vi } from "vitest";

import type { MeasurementReport } from "../api/types";
import { PIXEL_MM, annotationState, renderedViewports, resetCornerstone } from "../test/cornerstone";
import { drawSaved, drawnMeasurements, ellipseHandles, imageOf, removeDrawn } from "./measurements";

vi.mock("@cornerstonejs/core", async () => (await import("../test/cornerstone")).core);
vi.mock("@cornerstonejs/tools", async () => (await import("../test/cornerstone")).tools);

const image = (sop: string, frame = 1) => `wadors:http://x/api/radiology/dicom-web/studies/1.2/series/1.2.1/instances/${sop}/frames/${frame}`;
const world = (points: number[][]) => points.map(([column, row]) => [column * PIXEL_MM, row * PIXEL_MM, 0]);
const draw = (uid: string, toolName: string, imageId: string, points: number[][], label = "") =>
  annotationState.set(uid, { annotationUID: uid, metadata: { toolName, referencedImageId: imageId }, data: { handles: { points: world(points) }, label } });

const REPORT: MeasurementReport = {
  sop_instance_uid: "9.1", series_instance_uid: "9", orthanc_id: "o", observer: "Kim Minji", observer_login: "kim", created_at: "2026-12-04T10:00:00",
  measurements: [
    { kind: "length", label: "Length 1", tracking_uid: "7.1", sop_instance_uid: "1.2.1.1", series_instance_uid: "1.2.1", frame: null, points: [[10, 10], [40, 50]], length_mm: 25 },
    { kind: "ellipse", label: "A", tracking_uid: "7.2", sop_instance_uid: "1.2.1.2", series_instance_uid: "1.2.1", frame: null,
      points: [[20, 32], [44, 32], [32, 24], [32, 40]], area_mm2: 78.54, mean: 412.25, mean_unit: "[arb'U]" },
    { kind: "length", label: "elsewhere", tracking_uid: "7.3", sop_instance_uid: "5.5", series_instance_uid: "5", frame: null, points: [[1, 1], [2, 2]], length_mm: 1 },
  ],
}; // prettier-ignore

beforeEach(() => resetCornerstone());

describe("measurements", () => {
  it("read the image and frame of a wadors image id", () => {
    expect(imageOf(image("1.2.3", 4))).toEqual({ sop: "1.2.3", frame: 4 });
    expect(imageOf("wadouri:http://x/file.dcm")).toBeNull();
  });

  it("collect the unsaved lengths and ellipses on the series shown, in image coordinates", () => {
    const ids = [image("1.2.1.1"), image("1.2.1.2"), image("1.3", 1), image("1.3", 2)];
    draw("a", "Length", ids[0], [[10, 10], [40, 50]], "ruler");
    draw("b", "EllipticalROI", ids[3], [[32, 40], [32, 24], [20, 32], [44, 32]]);
    draw("c", "Length", image("other"), [[1, 1], [2, 2]]); // another series
    draw("sr-7.1", "Length", ids[1], [[1, 1], [2, 2]]); // redrawn from a report
    draw("d", "Probe", ids[1], [[1, 1]]);
    expect(drawnMeasurements(ids)).toEqual([
      { kind: "length", sop_instance_uid: "1.2.1.1", frame: null, points: [[10, 10], [40, 50]], label: "ruler" },
      { kind: "ellipse", sop_instance_uid: "1.3", frame: 2, points: [[32, 40], [32, 24], [20, 32], [44, 32]], label: "" }, // multi-frame: the frame
    ]);
  });

  it("order an SR ellipse as Cornerstone draws it: bottom, top, left, right", () => {
    expect(ellipseHandles([[20, 32], [44, 32], [32, 24], [32, 40]])).toEqual([[32, 40], [32, 24], [20, 32], [44, 32]]);
    expect(ellipseHandles([[32, 10], [32, 50], [40, 30], [24, 30]])).toEqual([[32, 50], [32, 10], [24, 30], [40, 30]]);
  });

  it("redraw a report's measurements on their images, locked, once", () => {
    const ids = [image("1.2.1.1"), image("1.2.1.2")];
    const element = document.createElement("div");
    expect(drawSaved([REPORT], ids, element, "vp")).toBe(2);
    const length = annotationState.get("sr-7.1")!;
    expect(length.metadata).toEqual({ toolName: "Length", referencedImageId: ids[0] });
    expect(length.isLocked).toBe(true);
    expect(length.data.handles.points).toEqual(world([[10, 10], [40, 50]]));
    expect(annotationState.get("sr-7.2")!.data.handles.points).toEqual(world([[32, 40], [32, 24], [20, 32], [44, 32]]));
    expect(annotationState.has("sr-7.3")).toBe(false); // not on this series
    expect(renderedViewports).toHaveBeenCalledWith(["vp"]);
    expect(drawSaved([REPORT], ids, element, "vp")).toBe(0);
    expect(drawnMeasurements(ids)).toEqual([]); // redrawn ones are never saved again
  });

  it("remove the unsaved drawings only", () => {
    const ids = [image("1.2.1.1")];
    draw("a", "Length", ids[0], [[1, 1], [2, 2]]);
    draw("sr-1", "Length", ids[0], [[1, 1], [2, 2]]);
    removeDrawn(ids);
    expect([...annotationState.keys()]).toEqual(["sr-1"]);
  });
});
