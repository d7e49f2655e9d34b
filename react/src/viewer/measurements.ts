// Lengths and ellipses drawn with Cornerstone's LengthTool and EllipticalROITool, to and from the API's
// measurements (saved by the server as a DICOM SR, docs/radiology.md "Measurements"). Points travel as DICOM
// image coordinates [column, row] with 0,0 the top left corner of the first pixel, which is what Cornerstone's
// worldToImageCoords and imageToWorldCoords use. Saved measurements are redrawn locked: the SR is the record.
import { utilities as coreUtils } from "@cornerstonejs/core";
import { EllipticalROITool, LengthTool, annotation as annotations, utilities as toolUtils } from "@cornerstonejs/tools";

import type { MeasurementInput, MeasurementReport, SavedMeasurement } from "../api/types";

type Point3 = [number, number, number];
type Kind = MeasurementInput["kind"];

export const MEASUREMENT_TOOLS: Record<Kind, string> = { length: LengthTool.toolName, ellipse: EllipticalROITool.toolName };
const KIND_OF: Record<string, Kind> = { [LengthTool.toolName]: "length", [EllipticalROITool.toolName]: "ellipse" };
/** Annotation ids of redrawn measurements: the SR's tracking UID, so a report is never drawn twice. */
const SAVED_PREFIX = "sr-";

interface DrawnAnnotation {
  annotationUID?: string;
  metadata: { toolName: string; referencedImageId?: string };
  data: { handles: { points: Point3[] }; label?: string };
}

/** The SOP Instance UID and frame number of a wadors image id (as dicomweb.imageIdsFor builds them). */
export function imageOf(imageId: string): { sop: string; frame: number } | null {
  const match = /\/instances\/([0-9.]+)\/frames\/(\d+)$/.exec(imageId);
  return match ? { sop: match[1], frame: Number(match[2]) } : null;
}

function framesPerInstance(imageIds: string[]): Map<string, number> {
  const count = new Map<string, number>();
  for (const id of imageIds) {
    const image = imageOf(id);
    if (image) count.set(image.sop, (count.get(image.sop) ?? 0) + 1);
  }
  return count;
}

/** The lengths and ellipses drawn on these images and not saved yet, as the API takes them. */
export function drawnMeasurements(imageIds: string[]): MeasurementInput[] {
  const shown = new Set(imageIds);
  const frames = framesPerInstance(imageIds);
  const all = (annotations.state.getAllAnnotations() ?? []) as DrawnAnnotation[];
  return all.flatMap((item) => {
    const kind = KIND_OF[item.metadata.toolName];
    const imageId = item.metadata.referencedImageId;
    const image = imageId ? imageOf(imageId) : null;
    if (!kind || !imageId || !image || !shown.has(imageId) || item.annotationUID?.startsWith(SAVED_PREFIX)) return [];
    const points = item.data.handles.points.map((point) => {
      const [column, row] = coreUtils.worldToImageCoords(imageId, point) ?? [Number.NaN, Number.NaN];
      return [column, row];
    });
    if (points.length !== (kind === "length" ? 2 : 4) || points.flat().some((value) => !Number.isFinite(value))) return [];
    return [
      {
        kind,
        sop_instance_uid: image.sop,
        frame: (frames.get(image.sop) ?? 1) > 1 ? image.frame : null,
        points,
        label: item.data.label ?? "",
      },
    ];
  });
}

/** An SR ellipse (major axis' ends, then minor) in Cornerstone's order: bottom, top, left, right on the image. */
export function ellipseHandles(points: number[][]): number[][] {
  const [a0, a1, b0, b1] = points;
  const aIsVertical = Math.abs(a1[1] - a0[1]) >= Math.abs(b1[1] - b0[1]);
  const [v0, v1] = aIsVertical ? [a0, a1] : [b0, b1];
  const [h0, h1] = aIsVertical ? [b0, b1] : [a0, a1];
  const [top, bottom] = v0[1] <= v1[1] ? [v0, v1] : [v1, v0];
  const [left, right] = h0[0] <= h1[0] ? [h0, h1] : [h1, h0];
  return [bottom, top, left, right];
}

function savedKey(measurement: SavedMeasurement): string {
  return `${measurement.sop_instance_uid}/${measurement.frame ?? 1}`;
}

/** Draw the saved measurements that lie on these images (locked); answers how many were drawn now. */
export function drawSaved(reports: MeasurementReport[], imageIds: string[], element: HTMLDivElement, viewportId: string): number {
  const byImage = new Map<string, string>();
  for (const id of imageIds) {
    const image = imageOf(id);
    if (image) byImage.set(`${image.sop}/${image.frame}`, id);
  }
  let drawn = 0;
  for (const measurement of reports.flatMap((report) => report.measurements)) {
    const imageId = byImage.get(savedKey(measurement));
    const annotationUID = `${SAVED_PREFIX}${measurement.tracking_uid}`;
    if (!imageId || annotations.state.getAnnotation(annotationUID)) continue;
    const onImage = measurement.kind === "ellipse" ? ellipseHandles(measurement.points) : measurement.points;
    const points = onImage.map((point) => coreUtils.imageToWorldCoords(imageId, [point[0], point[1]]) as Point3);
    const origin: Point3 = [0, 0, 0];
    annotations.state.addAnnotation(
      {
        annotationUID,
        highlighted: false,
        invalidated: true,
        isLocked: true,
        isVisible: true,
        metadata: { toolName: MEASUREMENT_TOOLS[measurement.kind], referencedImageId: imageId },
        data: {
          label: measurement.label,
          cachedStats: {},
          handles: {
            points,
            activeHandleIndex: null,
            textBox: { hasMoved: false, worldPosition: origin, worldBoundingBox: { topLeft: origin, topRight: origin, bottomLeft: origin, bottomRight: origin } },
          },
        },
      } as never,
      element,
    );
    drawn += 1;
  }
  if (drawn) toolUtils.triggerAnnotationRenderForViewportIds([viewportId]);
  return drawn;
}

/** Remove the unsaved drawings on these images (after a save, the SR's locked copies replace them). */
export function removeDrawn(imageIds: string[]): void {
  const shown = new Set(imageIds);
  const all = (annotations.state.getAllAnnotations() ?? []) as DrawnAnnotation[];
  for (const item of all) {
    const imageId = item.metadata.referencedImageId;
    if (item.annotationUID && KIND_OF[item.metadata.toolName] && imageId && shown.has(imageId) && !item.annotationUID.startsWith(SAVED_PREFIX)) {
      annotations.state.removeAnnotation(item.annotationUID);
    }
  }
}

export { measurementText } from "./measurementText";
