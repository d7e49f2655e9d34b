import { describe, expect, it } from "vitest";

import { firstMultipartPart, imageIdsFor, sortInstances } from "./dicomweb";
import type { DicomJson } from "./dicomweb";

function instance(sop: string, z: number, number: number, frames?: number): DicomJson {
  return {
    "00080018": { vr: "UI", Value: [sop] },
    "00200013": { vr: "IS", Value: [number] },
    "00200032": { vr: "DS", Value: [0, 0, z] },
    "00200037": { vr: "DS", Value: [1, 0, 0, 0, 1, 0] },
    ...(frames ? { "00280008": { vr: "IS", Value: [frames] } } : {}),
  };
}

describe("DICOMweb helpers", () => {
  it("orders slices along the slice normal, whatever their instance numbers", () => {
    const sorted = sortInstances([instance("c", 10, 1), instance("a", -5, 3), instance("b", 2, 2)]);
    expect(sorted.map((item) => item["00080018"]!.Value![0])).toEqual(["a", "b", "c"]);
  });

  it("falls back to InstanceNumber without positions", () => {
    const bare = (sop: string, number: number): DicomJson => ({ "00080018": { Value: [sop] }, "00200013": { Value: [number] } });
    expect(sortInstances([bare("y", 2), bare("x", 1)]).map((item) => item["00080018"]!.Value![0])).toEqual(["x", "y"]);
  });

  it("makes one wadors image id per frame through the gateway", () => {
    const ids = imageIdsFor("1.2", "1.2.3", [instance("9", 0, 1), instance("10", 1, 2, 2)], "https://h");
    expect(ids).toEqual([
      "wadors:https://h/api/radiology/dicom-web/studies/1.2/series/1.2.3/instances/9/frames/1",
      "wadors:https://h/api/radiology/dicom-web/studies/1.2/series/1.2.3/instances/10/frames/1",
      "wadors:https://h/api/radiology/dicom-web/studies/1.2/series/1.2.3/instances/10/frames/2",
    ]);
  });

  it("takes the first part of a multipart/related answer", () => {
    const text = '--B1\r\nContent-Type: application/dicom\r\n\r\nDICM-BYTES\r\n--B1--\r\n';
    const buffer = new TextEncoder().encode(text).buffer as ArrayBuffer;
    const part = firstMultipartPart(buffer, 'multipart/related; type="application/dicom"; boundary=B1');
    expect(new TextDecoder().decode(part)).toBe("DICM-BYTES");
  });
});

describe("retrying rate-limited requests", () => {
  it("tries again after 429 and gives up on other errors", async () => {
    const { withRetry } = await import("./dicomweb");
    const waits: number[] = [];
    let calls = 0;
    const value = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw { status: 429 };
        return "frame";
      },
      async (ms) => void waits.push(ms),
    );
    expect(value).toBe("frame");
    expect(waits).toEqual([250, 500]);
    await expect(withRetry(async () => Promise.reject({ status: 404 }), async () => {})).rejects.toEqual({ status: 404 });
  });
});
