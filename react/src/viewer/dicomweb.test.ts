import { act, renderHook } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { ApiError } from "../api/client";
import { firstMultipartPart, imageIdsFor, sortInstances, withRetry } from "./dicomweb";
import type { DicomJson } from "./dicomweb";
import { currentUnanswering, setUnanswering, useUnanswering } from "./serverStatus";

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

  it("says the PACS is not answering while 503s are retried, and no longer once it answers", async () => {
    const seen: (string | null)[] = [];
    const hook = renderHook(() => useUnanswering());
    act(() => setUnanswering(null));
    let calls = 0;
    await act(() => withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw { status: 503, response: new ArrayBuffer(0) }; // as the frame loader's XMLHttpRequest fails
        return "frame";
      },
      async () => void seen.push(currentUnanswering()),
    ));
    expect(seen).toEqual(["pacs", "pacs"]);
    expect(hook.result.current).toBeNull();
    // a rate limit is not an outage
    calls = 0;
    await act(() => withRetry(async () => (++calls < 2 ? Promise.reject({ status: 429 }) : "frame"), async () => void seen.push(currentUnanswering())));
    expect(seen).toEqual(["pacs", "pacs", null]);
  });

  it("names the server nginx's 503 names: the CDSS itself, or the PACS", async () => {
    const nginx503 = (system: string) => new TextEncoder().encode(JSON.stringify({ status: 503, error: "external_system", system })).buffer;
    const seen: (string | null)[] = [];
    for (const failure of [
      { status: 503, response: nginx503("cdss-api") }, // the frame loader's XHR (its body an ArrayBuffer)
      { xhr: { status: 503, response: nginx503("orthanc") } },
      new ApiError(503, { status: 503, error: "external_system", detail: "down", system: "cdss-api" }), // a QIDO or metadata fetch
      { status: 503, response: "<html>bad gateway</html>" }, // named nowhere: the PACS, as before
    ]) {
      let calls = 0;
      await act(() => withRetry(async () => (++calls < 2 ? Promise.reject(failure) : "frame"), async () => void seen.push(currentUnanswering())));
    }
    expect(seen).toEqual(["cdss", "pacs", "cdss", "pacs"]);
  });
});
