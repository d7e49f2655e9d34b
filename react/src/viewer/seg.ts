// A DICOM SEG as a Cornerstone3D labelmap on the stack viewport: which series it was drawn on, its labelmap
// images, and adding, styling and removing its representation.
import { adaptersSEG } from "@cornerstonejs/adapters";
import { Enums as ToolEnums, segmentation } from "@cornerstonejs/tools";
import dicomParser from "dicom-parser";

import { metaData } from "./cornerstone";

const LABELMAP = ToolEnums.SegmentationRepresentations.Labelmap;

/** The series a DICOM SEG was drawn on (ReferencedSeriesSequence), to show the overlay on the right images. */
export function referencedSeries(buffer: ArrayBuffer): string | undefined {
  try {
    const dataSet = dicomParser.parseDicom(new Uint8Array(buffer), { untilTag: "x7fe00010" });
    const item = dataSet.elements.x00081115?.items?.[0]?.dataSet;
    return item?.string("x0020000e") ?? undefined;
  } catch {
    return undefined;
  }
}

/** The SEG's frames as labelmap images over the stack's image ids (the first layer of an overlapping SEG). */
export async function labelmapImageIds(imageIds: string[], buffer: ArrayBuffer): Promise<string[]> {
  const { labelMapImages } = await adaptersSEG.Cornerstone3D.Segmentation.createFromDICOMSegBuffer(imageIds, buffer, { metadataProvider: metaData });
  const layer = (Array.isArray(labelMapImages[0]) ? labelMapImages[0] : labelMapImages) as { imageId: string }[];
  return layer.map((image) => image.imageId);
}

export function addLabelmap(viewportId: string, segmentationId: string, labelmapIds: string[]): void {
  segmentation.addSegmentations([{ segmentationId, representation: { type: LABELMAP, data: { imageIds: labelmapIds } } }]);
  segmentation.addLabelmapRepresentationToViewport(viewportId, [{ segmentationId }]);
}

export function removeLabelmap(viewportId: string, segmentationId: string): void {
  segmentation.removeSegmentationRepresentations(viewportId, { segmentationId });
  segmentation.removeSegmentation(segmentationId);
}

export function styleLabelmap(viewportId: string, segmentationId: string, visible: boolean, opacity: number): void {
  segmentation.config.visibility.setSegmentationRepresentationVisibility(viewportId, { segmentationId, type: LABELMAP }, visible);
  segmentation.config.style.setStyle({ type: LABELMAP }, { fillAlpha: opacity, fillAlphaInactive: opacity, outlineOpacity: Math.min(1, opacity + 0.3) });
}
