import { afterEach, describe, expect, it, vi } from "vitest";

import { imageFile } from "../test/dicom";
import { SERIES_ACCEPT, framesOf, registeredFrame, releaseFrame, retrieveSeriesFrames } from "./seriesRetrieve";

vi.mock("@cornerstonejs/core", async () => (await import("../test/cornerstone")).core);

const FRAME_DATA = "compressedFrameData";
const bytes = (view: Uint8Array | undefined) => (view ? [...view] : undefined);

describe("a DICOM file's frames", () => {
  it("splits native pixel data frame by frame", () => {
    const pixels = Array.from({ length: 3 * 8 }, (_, index) => index);
    const read = framesOf(imageFile({ sopInstanceUid: "1.2.3", frames: 3, pixels }));
    expect(read?.sopInstanceUid).toBe("1.2.3");
    expect(read?.transferSyntaxUid).toBe("1.2.840.10008.1.2.1");
    expect(read?.frames.map(bytes)).toEqual([pixels.slice(0, 8), pixels.slice(8, 16), pixels.slice(16)]);
    // each its own bytes: a decoding worker is handed a frame's whole buffer
    expect(read?.frames.map((frame) => frame.buffer.byteLength)).toEqual([8, 8, 8]);
  });

  it("joins an encapsulated frame's fragments, and splits frames by the offset table", () => {
    const jpeg = "1.2.840.10008.1.2.4.50";
    const single = framesOf(imageFile({ sopInstanceUid: "1.2.4", transferSyntaxUid: jpeg, fragments: [[1, 2], [3, 4]] }));
    expect(single?.frames.map(bytes)).toEqual([[1, 2, 3, 4]]);
    // offsets from the first fragment's item: each fragment is 8 bytes of item header and 2 of data
    const multi = framesOf(imageFile({ sopInstanceUid: "1.2.5", transferSyntaxUid: jpeg, frames: 2, fragments: [[5, 6], [7, 8], [9, 10]], offsets: [0, 20] }));
    expect(multi?.frames.map(bytes)).toEqual([[5, 6, 7, 8], [9, 10]]);
  });

  it("leaves to the frames retrieval what it does not split", () => {
    const jpeg = "1.2.840.10008.1.2.4.50";
    expect(framesOf(imageFile({ sopInstanceUid: "1", transferSyntaxUid: "1.2.840.10008.1.2.2", pixels: new Array(8).fill(0) }))).toBeNull(); // big endian
    expect(framesOf(imageFile({ sopInstanceUid: "1", pixels: new Array(6).fill(0) }))).toBeNull(); // shorter than a frame
    expect(framesOf(imageFile({ sopInstanceUid: "1", transferSyntaxUid: jpeg, frames: 2, fragments: [[1, 2], [3, 4], [5, 6]] }))).toBeNull(); // no offset table
    expect(framesOf(new TextEncoder().encode("not DICOM"))).toBeNull();
  });
});

function multipartStream(files: Uint8Array[], { close = true } = {}): ReadableStream<Uint8Array> {
  const encode = (text: string) => new TextEncoder().encode(text);
  const chunks = files.flatMap((file) => [encode(`--XYZ\r\nContent-Type: application/dicom\r\nContent-Length: ${file.length}\r\n\r\n`), file, encode("\r\n")]);
  if (close) chunks.push(encode("--XYZ--\r\n"));
  return new ReadableStream({
    start(controller) {
      chunks.forEach((chunk) => controller.enqueue(chunk));
      controller.close();
    },
  });
}

const CONTENT_TYPE = 'multipart/related; type="application/dicom"; boundary=XYZ';
const ROOT = "wadors:http://host/api/radiology/dicom-web/studies/1.2/series/1.2.1/instances";
const imageId = (sop: string, frame = 1) => `${ROOT}/${sop}/frames/${frame}`;

describe("retrieving a series in one request", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    ["a", "b", "c"].forEach((sop) => releaseFrame(imageId(sop)));
  });

  it("registers each frame asked for as its file arrives, for the wadors loader to take", async () => {
    const files = [imageFile({ sopInstanceUid: "a", pixels: [1, 2, 3, 4, 5, 6, 7, 8] }), imageFile({ sopInstanceUid: "x", pixels: new Array(8).fill(0) })];
    const fetch = vi.fn(async () => new Response(multipartStream(files), { headers: { "Content-Type": CONTENT_TYPE } }));
    vi.stubGlobal("fetch", fetch);
    const arrived: string[] = [];
    await retrieveSeriesFrames("1.2", "1.2.1", [imageId("a"), imageId("b")], (id) => arrived.push(id), new AbortController().signal);
    expect(fetch).toHaveBeenCalledWith("/api/radiology/dicom-web/studies/1.2/series/1.2.1", expect.objectContaining({ headers: { Accept: SERIES_ACCEPT } }));
    expect(arrived).toEqual([imageId("a")]); // "x" was not asked for; "b" did not come
    expect(registeredFrame(FRAME_DATA, imageId("a"))).toEqual({ pixelData: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), transferSyntaxUid: "1.2.840.10008.1.2.1" });
    expect(registeredFrame("imagePlaneModule", imageId("a"))).toBeUndefined();
    releaseFrame(imageId("a"));
    expect(registeredFrame(FRAME_DATA, imageId("a"))).toBeUndefined();
  });

  it("rejects a refused request, and a stream broken off, keeping the frames that came", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response('{"system": "orthanc"}', { status: 503, headers: { "Content-Type": "application/json" } })));
    await expect(retrieveSeriesFrames("1.2", "1.2.1", [imageId("a")], () => {}, new AbortController().signal)).rejects.toThrow("503");
    const files = [imageFile({ sopInstanceUid: "c", pixels: new Array(8).fill(1) }), imageFile({ sopInstanceUid: "b", pixels: new Array(8).fill(2) })];
    vi.stubGlobal("fetch", vi.fn(async () => new Response(multipartStream(files, { close: false }), { headers: { "Content-Type": CONTENT_TYPE } })));
    await expect(retrieveSeriesFrames("1.2", "1.2.1", [imageId("b"), imageId("c")], () => {}, new AbortController().signal)).rejects.toThrow("closing boundary");
    expect(registeredFrame(FRAME_DATA, imageId("c"))?.pixelData).toHaveLength(8);
    expect(registeredFrame(FRAME_DATA, imageId("b"))).toBeUndefined(); // its end never came: the frames retrieval fetches it
  });
});
