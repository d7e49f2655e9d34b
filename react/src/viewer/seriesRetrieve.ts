// A series' frames in one request. WADO-RS "retrieve series" answers every instance of a series as one
// multipart/related stream of DICOM files, where frame by frame costs a request per slice: 600 for a four-
// series MR exam, each with its browser, TLS, nginx and PACS overhead and its multipart answer searched byte by
// byte for its boundary on the page's main thread. The stream is read as it comes: each file's frames are put
// in a registry that Cornerstone's wadors loader looks in before it fetches (the COMPRESSED_FRAME_DATA
// metadata), so a frame is decoded as soon as its file is in. What the stream does not bring (a transfer
// syntax not split here, an instance missing, the request refused or broken off) is left to the frame-by-frame
// path, which retries and tells which server is not answering (dicomweb.ts).
import { Enums, metaData } from "@cornerstonejs/core";
import dicomParser from "dicom-parser";

import { dicomwebFetch, dicomwebPath } from "./dicomweb";
import { MultipartReader, boundaryOf } from "./multipart";

/** Whole instances in the syntax the PACS holds them in: the same frame bytes as the frames retrieval. */
export const SERIES_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*';

interface FrameData {
  pixelData: Uint8Array;
  transferSyntaxUid: string;
}

const registry = new Map<string, FrameData>();

/** The metadata provider the wadors loader asks for a frame's bytes (startCornerstone adds it). */
export function registeredFrame(type: string, imageId: string): FrameData | undefined {
  return type === Enums.MetadataModules.COMPRESSED_FRAME_DATA ? registry.get(imageId) : undefined;
}

export function addFrameProvider(): void {
  metaData.addProvider(registeredFrame as never, 10_000); // before every other provider
}

/** A frame's bytes are dropped once it is in Cornerstone's cache, or no longer wanted. */
export function releaseFrame(imageId: string): void {
  registry.delete(imageId);
}

const UNCOMPRESSED = new Set(["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]);
// deflated and big endian files are left to the frames retrieval, which the PACS answers in a syntax Cornerstone reads
const NOT_SPLIT = new Set(["1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"]);

/** A DICOM file's frames, in order, with its SOP instance UID; null when this file's frames are not split here.
 * Each frame has its own bytes: a view into the file would hand the whole file to a decoding worker per frame. */
export function framesOf(file: Uint8Array): { sopInstanceUid: string; transferSyntaxUid: string; frames: Uint8Array[] } | null {
  let dataSet: dicomParser.DataSet;
  try {
    dataSet = dicomParser.parseDicom(file);
  } catch {
    return null;
  }
  const sopInstanceUid = dataSet.string("x00080018");
  const transferSyntaxUid = dataSet.string("x00020010");
  const pixels = dataSet.elements.x7fe00010;
  if (!sopInstanceUid || !transferSyntaxUid || !pixels || NOT_SPLIT.has(transferSyntaxUid)) return null;
  const count = dataSet.intString("x00280008") || 1;
  if (pixels.encapsulatedPixelData) {
    const fragments = pixels.fragments ?? [];
    if (count === 1) return { sopInstanceUid, transferSyntaxUid, frames: [dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixels, 0, fragments.length).slice()] };
    if (pixels.basicOffsetTable?.length === count) {
      const frames = Array.from({ length: count }, (_, index) => dicomParser.readEncapsulatedImageFrame(dataSet, pixels, index).slice());
      return { sopInstanceUid, transferSyntaxUid, frames };
    }
    return null; // frames without an offset table: the PACS knows where each begins
  }
  if (!UNCOMPRESSED.has(transferSyntaxUid)) return null;
  const bits = dataSet.uint16("x00280100") ?? 0;
  const size = (dataSet.uint16("x00280010") ?? 0) * (dataSet.uint16("x00280011") ?? 0) * (dataSet.uint16("x00280002") ?? 1) * (bits / 8);
  if (bits % 8 !== 0 || size <= 0 || pixels.length < size * count) return null;
  const frames = Array.from({ length: count }, (_, index) => file.slice(pixels.dataOffset + index * size, pixels.dataOffset + (index + 1) * size));
  return { sopInstanceUid, transferSyntaxUid, frames };
}

/** The frame number and SOP instance UID in a wadors image id (imageIdsFor in dicomweb.ts makes them). */
function frameKey(imageId: string): string | null {
  const match = /\/instances\/([^/]+)\/frames\/(\d+)$/.exec(imageId);
  return match ? `${match[1]}/${match[2]}` : null;
}

/** Retrieve the series in one request and register each of `imageIds`' frames as its file arrives; `onFrame` is told
 * each image id registered. Rejects when the request is refused or broken off (the frames registered stay). */
export async function retrieveSeriesFrames(
  studyUid: string,
  seriesUid: string,
  imageIds: string[],
  onFrame: (imageId: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const wanted = new Map(imageIds.map((imageId) => [frameKey(imageId), imageId]));
  const response = await dicomwebFetch(dicomwebPath.instances(studyUid, seriesUid), SERIES_ACCEPT, signal);
  const boundary = boundaryOf(response.headers.get("Content-Type"));
  if (!response.body || !boundary) {
    await response.body?.cancel();
    throw new Error("series retrieval answered without multipart parts");
  }
  const reader = new MultipartReader(boundary);
  const stream = response.body.getReader();
  for (;;) {
    const { done, value } = await stream.read();
    if (done) break;
    for (const file of reader.push(value)) {
      const read = framesOf(file);
      read?.frames.forEach((pixelData, index) => {
        const imageId = wanted.get(`${read.sopInstanceUid}/${index + 1}`);
        if (!imageId || signal.aborted) return;
        registry.set(imageId, { pixelData, transferSyntaxUid: read.transferSyntaxUid });
        onFrame(imageId);
      });
    }
  }
  if (!reader.done) throw new Error("series retrieval ended before its closing boundary");
}
