import { describe, expect, it, vi } from "vitest";

import { createFromDICOMSegBuffer, resetCornerstone, segmentationCalls } from "../test/cornerstone";
import { segReferencing } from "../test/dicom";
import { addLabelmap, labelmapImageIds, referencedSeries, removeLabelmap, styleLabelmap } from "./seg";

vi.mock("@cornerstonejs/tools", async () => (await import("../test/cornerstone")).tools);
vi.mock("@cornerstonejs/adapters", async () => (await import("../test/cornerstone")).adapters);
vi.mock("./cornerstone", async () => (await import("../test/cornerstone")).viewerCornerstone);

describe("SEG overlay helpers", () => {
  it("read the series a SEG was drawn on, and nothing from bytes that are not DICOM", () => {
    expect(referencedSeries(segReferencing("1.2.840.99.3"))).toBe("1.2.840.99.3");
    expect(referencedSeries(new TextEncoder().encode("not dicom").buffer)).toBeUndefined();
  });

  it("take the first layer of labelmap images, nested or not", async () => {
    resetCornerstone();
    const bytes = new ArrayBuffer(4);
    expect(await labelmapImageIds(["a", "b"], bytes)).toEqual(["seg:1"]);
    expect(createFromDICOMSegBuffer).toHaveBeenCalledWith(["a", "b"], bytes, expect.objectContaining({ metadataProvider: expect.anything() }));
    createFromDICOMSegBuffer.mockResolvedValueOnce({ labelMapImages: [{ imageId: "x" }, { imageId: "y" }] } as never);
    expect(await labelmapImageIds(["a"], bytes)).toEqual(["x", "y"]);
  });

  it("add, style and remove the labelmap on a viewport", () => {
    resetCornerstone();
    addLabelmap("vp", "seg-1", ["x"]);
    expect(segmentationCalls.addSegmentations).toHaveBeenCalledWith([{ segmentationId: "seg-1", representation: { type: "Labelmap", data: { imageIds: ["x"] } } }]);
    expect(segmentationCalls.addLabelmapRepresentationToViewport).toHaveBeenCalledWith("vp", [{ segmentationId: "seg-1" }]);
    styleLabelmap("vp", "seg-1", false, 0.8);
    expect(segmentationCalls.setVisibility).toHaveBeenCalledWith("vp", { segmentationId: "seg-1", type: "Labelmap" }, false);
    expect(segmentationCalls.setStyle).toHaveBeenCalledWith({ type: "Labelmap" }, { fillAlpha: 0.8, fillAlphaInactive: 0.8, outlineOpacity: 1 });
    removeLabelmap("vp", "seg-1");
    expect(segmentationCalls.removeSegmentationRepresentations).toHaveBeenCalledWith("vp", { segmentationId: "seg-1" });
    expect(segmentationCalls.removeSegmentation).toHaveBeenCalledWith("seg-1");
  });
});
