// Reading a study through the CDSS DICOMweb gateway (/api/radiology/dicom-web): QIDO-RS for series and
// instances, WADO-RS for metadata, frames (wadors: image ids) and whole instances (a DICOM SEG).
// Same origin, so the session cookie goes with every request; GETs need no CSRF header.
import { ApiError, SESSION_EXPIRED_EVENT, jsonBody } from "../api/client";
import type { ErrorBody } from "../api/client";
import { DICOMWEB_ROOT } from "../api/radiology";
import { MultipartReader, boundaryOf } from "./multipart";
import { setUnanswering, unansweringServer } from "./serverStatus";

export type DicomJson = Record<string, { vr?: string; Value?: unknown[]; BulkDataURI?: string } | undefined>;

export const TAG = {
  SOPInstanceUID: "00080018",
  SOPClassUID: "00080016",
  Modality: "00080060",
  SeriesInstanceUID: "0020000E",
  SeriesDescription: "0008103E",
  SeriesNumber: "00200011",
  InstanceNumber: "00200013",
  NumberOfFrames: "00280008",
  ImagePositionPatient: "00200032",
  ImageOrientationPatient: "00200037",
  NumberOfSeriesRelatedInstances: "00201209",
  Rows: "00280010",
  Columns: "00280011",
  PixelSpacing: "00280030",
} as const;

export function value<T = string>(item: DicomJson, tag: string): T | undefined {
  return item[tag]?.Value?.[0] as T | undefined;
}

const RETRIES = 6;

interface FailedRequest {
  status?: number;
  /** An ApiError's parsed body. */
  body?: ErrorBody | null;
  /** An XMLHttpRequest's body (the frame loader rejects with its XHR, or with an object holding it). */
  response?: unknown;
  request?: FailedRequest;
  xhr?: FailedRequest;
}

function failedRequest(error: unknown): FailedRequest | undefined {
  const value = error as FailedRequest | null | undefined;
  return value?.xhr ?? value?.request ?? value ?? undefined;
}

function httpStatus(error: unknown): number | undefined {
  return (error as FailedRequest | null)?.status ?? failedRequest(error)?.status;
}

/** The system a failed request's JSON body names (nginx's 503s and the API's errors say `"system"`). */
function namedSystem(error: unknown): unknown {
  const failed = failedRequest(error);
  if (failed?.body) return failed.body.system;
  const response = failed?.response;
  // an ArrayBuffer, told by its shape (instanceof fails across realms: a worker's, a test's)
  const bytes = typeof response === "object" && response !== null && "byteLength" in response;
  if (!bytes && typeof response !== "string") return undefined;
  try {
    const text = typeof response === "string" ? response : new TextDecoder().decode(response as ArrayBuffer);
    return (JSON.parse(text) as { system?: unknown }).system;
  } catch {
    return undefined; // not JSON: nothing named
  }
}

/** A frame answered 429 (nginx's rate limit) or 503 is tried again after a growing pause, not shown broken; while
 * 503s come, the viewer says which server is not answering (serverStatus.ts). */
export async function withRetry<T>(load: () => Promise<T>, wait = (ms: number) => new Promise((done) => setTimeout(done, ms))): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await load();
      setUnanswering(null);
      return answer;
    } catch (error) {
      const status = httpStatus(error);
      if (status === 503) setUnanswering(unansweringServer(namedSystem(error)));
      if (attempt >= RETRIES || (status !== 429 && status !== 503)) throw error;
      await wait(Math.min(8000, 250 * 2 ** attempt));
    }
  }
}

/** One DICOMweb request: an ApiError when refused (a 401 also tells the app the session has ended). */
export async function dicomwebFetch(path: string, accept: string, signal?: AbortSignal): Promise<Response> {
  const response = await fetch(`${DICOMWEB_ROOT}/${path}`, { headers: { Accept: accept }, credentials: "same-origin", signal });
  if (response.status === 401) window.dispatchEvent(new Event(SESSION_EXPIRED_EVENT));
  if (!response.ok) throw new ApiError(response.status, (await jsonBody(response).catch(() => null)) as ErrorBody | null);
  return response;
}

function get(path: string, accept: string): Promise<Response> {
  return withRetry(() => dicomwebFetch(path, accept));
}

async function fetchJson(path: string): Promise<DicomJson[]> {
  const response = await get(path, "application/dicom+json");
  if (response.status === 204) return [];
  return (await response.json()) as DicomJson[];
}

/** Answers asked for ahead of the viewer (readAhead.ts), while its code is still arriving: each is taken by the
 * first request for the same path within READ_AHEAD_MS, after which the path is fetched afresh again. */
const readAhead = new Map<string, { answer: Promise<DicomJson[]>; at: number }>();
const READ_AHEAD_MS = 30_000;

function dropStale(now: number): void {
  for (const [path, entry] of readAhead) if (now - entry.at >= READ_AHEAD_MS) readAhead.delete(path);
}

/** Start fetching a path for a request to come; answers the same promise while it waits to be taken. */
export function fetchAhead(path: string): Promise<DicomJson[]> {
  const now = Date.now();
  dropStale(now);
  let entry = readAhead.get(path);
  if (!entry) {
    entry = { answer: fetchJson(path), at: now };
    entry.answer.catch(() => {}); // its taker sees the failure; untaken, it is nobody's
    readAhead.set(path, entry);
  }
  return entry.answer;
}

async function json(path: string): Promise<DicomJson[]> {
  dropStale(Date.now());
  const ahead = readAhead.get(path);
  readAhead.delete(path);
  return ahead ? ahead.answer : fetchJson(path);
}

export const dicomwebPath = {
  series: (studyUid: string) => `studies/${studyUid}/series`,
  metadata: (studyUid: string, seriesUid: string) => `studies/${studyUid}/series/${seriesUid}/metadata`,
  /** The series' instances, whole (WADO-RS retrieve series). */
  instances: (studyUid: string, seriesUid: string) => `studies/${studyUid}/series/${seriesUid}`,
};

export interface SeriesSummary {
  uid: string;
  modality: string;
  description: string;
  number?: number;
  instances?: number;
}

export async function qidoSeries(studyUid: string): Promise<SeriesSummary[]> {
  return seriesSummaries(await json(dicomwebPath.series(studyUid)));
}

/** QIDO-RS series rows as summaries, by series number. */
export function seriesSummaries(rows: DicomJson[]): SeriesSummary[] {
  return rows
    .map((row) => ({
      uid: value(row, TAG.SeriesInstanceUID) ?? "",
      modality: value(row, TAG.Modality) ?? "",
      description: value(row, TAG.SeriesDescription) ?? "",
      number: value<number>(row, TAG.SeriesNumber),
      instances: value<number>(row, TAG.NumberOfSeriesRelatedInstances),
    }))
    .sort((a, b) => (a.number ?? 0) - (b.number ?? 0));
}

export async function qidoInstances(studyUid: string, seriesUid: string): Promise<DicomJson[]> {
  return json(`studies/${studyUid}/series/${seriesUid}/instances`);
}

export async function seriesMetadata(studyUid: string, seriesUid: string): Promise<DicomJson[]> {
  return json(dicomwebPath.metadata(studyUid, seriesUid));
}

/** The slice normal of an ImageOrientationPatient (row and column cosines): their cross product. */
export function sliceNormal(orientation: number[]): [number, number, number] {
  const [a, b, c, d, e, f] = orientation.map(Number);
  return [b * f - c * e, c * d - a * f, a * e - b * d];
}

/** Slices in anatomical order: along the slice normal when positions are known, else by InstanceNumber. */
export function sortInstances(instances: DicomJson[]): DicomJson[] {
  const orientation = instances[0]?.[TAG.ImageOrientationPatient]?.Value as number[] | undefined;
  const withPosition = instances.every((item) => (item[TAG.ImagePositionPatient]?.Value?.length ?? 0) === 3);
  if (orientation?.length === 6 && withPosition) {
    const normal = sliceNormal(orientation);
    const distance = (item: DicomJson) => {
      const position = (item[TAG.ImagePositionPatient]!.Value as number[]).map(Number);
      return position[0] * normal[0] + position[1] * normal[1] + position[2] * normal[2];
    };
    return [...instances].sort((x, y) => distance(x) - distance(y));
  }
  return [...instances].sort((x, y) => Number(value(x, TAG.InstanceNumber) ?? 0) - Number(value(y, TAG.InstanceNumber) ?? 0));
}

/** One wadors: image id per frame, absolute so the loader's XHR needs no base. */
export function imageIdsFor(studyUid: string, seriesUid: string, instances: DicomJson[], origin = window.location.origin): string[] {
  return instances.flatMap((item) => {
    const sop = value(item, TAG.SOPInstanceUID);
    const frames = Number(value(item, TAG.NumberOfFrames) ?? 1) || 1;
    return Array.from(
      { length: frames },
      (_, index) => `wadors:${origin}${DICOMWEB_ROOT}/studies/${studyUid}/series/${seriesUid}/instances/${sop}/frames/${index + 1}`,
    );
  });
}

/** The first part of a multipart/related body (WADO-RS answers whole instances that way); the body itself when
 * it is not multipart. */
export function firstMultipartPart(body: ArrayBuffer, contentType: string): ArrayBuffer {
  const boundary = boundaryOf(contentType);
  const [part] = boundary ? new MultipartReader(boundary).push(new Uint8Array(body)) : [];
  return part ? (part.buffer as ArrayBuffer) : body;
}

/** A whole instance as Part-10 bytes (e.g. the study's DICOM SEG). */
export async function retrieveInstance(studyUid: string, seriesUid: string, sopUid: string): Promise<ArrayBuffer> {
  const response = await get(`studies/${studyUid}/series/${seriesUid}/instances/${sopUid}`, 'multipart/related; type="application/dicom"');
  const body = await response.arrayBuffer();
  return firstMultipartPart(body, response.headers.get("Content-Type") ?? "");
}
