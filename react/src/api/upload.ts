// DICOM upload with progress: XMLHttpRequest (fetch reports no upload progress), the session cookie, the
// CSRF header and the language as api() sends them. Files go in batches so a folder of hundreds of slices
// is a few requests; a zip travels alone, so every result in its answer belongs to it.
import { SESSION_EXPIRED_EVENT, apiLanguage, csrfToken } from "./client";
import type { UploadFileResult, UploadRefused, UploadResponse } from "./types";

export const UPLOAD_URL = "/api/radiology/uploads";
export const BATCH_MAX_BYTES = 64 * 1024 * 1024;
export const BATCH_MAX_FILES = 100;

export interface UploadItem {
  key: string;
  file: File;
  /** The path shown to people: a folder's relative path, or the file's name. */
  path: string;
}

export type ItemState = "waiting" | "sending" | "done" | "failed";

export interface ItemProgress {
  state: ItemState;
  loaded: number;
  results: UploadFileResult[];
  error?: string;
}

export function isZip(file: File): boolean {
  return file.name.toLowerCase().endsWith(".zip") || file.type === "application/zip" || file.type === "application/x-zip-compressed";
}

export function batches(items: UploadItem[], maxBytes = BATCH_MAX_BYTES, maxFiles = BATCH_MAX_FILES): UploadItem[][] {
  const out: UploadItem[][] = [];
  let current: UploadItem[] = [];
  let bytes = 0;
  for (const item of items) {
    if (isZip(item.file)) {
      out.push([item]);
      continue;
    }
    if (current.length && (bytes + item.file.size > maxBytes || current.length >= maxFiles)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.file.size;
  }
  if (current.length) out.push(current);
  return out;
}

/** Bytes sent so far spread over the batch's files in order (the multipart body keeps that order). */
export function spreadLoaded(sizes: number[], loaded: number, total: number): number[] {
  const payload = sizes.reduce((sum, size) => sum + size, 0);
  const overhead = Math.max(0, total - payload);
  let left = Math.max(0, loaded - overhead / 2); // roughly half the multipart headers come first
  return sizes.map((size) => {
    const part = Math.min(size, left);
    left -= part;
    return part;
  });
}

/** Gives each file of a batch its results: a lone zip gets them all; files get theirs in request order. */
export function assignResults(batch: UploadItem[], results: UploadFileResult[]): UploadFileResult[][] {
  if (batch.length === 1) return [results];
  if (results.length === batch.length) return results.map((result) => [result]);
  const pool = [...results];
  return batch.map((item) => {
    const index = pool.findIndex((result) => result.file === item.file.name || item.path.endsWith(result.file));
    return index >= 0 ? pool.splice(index, 1) : [];
  });
}

export class UploadError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Partial<UploadRefused> | null, // 400/413: each file says why; other errors: detail only
  ) {
    super(message);
  }
}

export function sendBatch(
  batch: UploadItem[],
  onProgress: (loaded: number, total: number) => void,
  signal?: AbortSignal,
): Promise<UploadResponse> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const item of batch) form.append("files", item.file, item.file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", UPLOAD_URL);
    xhr.withCredentials = true;
    xhr.responseType = "text";
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Accept-Language", apiLanguage());
    const token = csrfToken();
    if (token) xhr.setRequestHeader("X-CSRFToken", token);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => {
      let body: Partial<UploadRefused> | null = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        body = null;
      }
      if (xhr.status === 401) window.dispatchEvent(new Event(SESSION_EXPIRED_EVENT));
      if (xhr.status >= 200 && xhr.status < 300 && body?.results) {
        resolve(body as UploadResponse);
      } else {
        reject(new UploadError(xhr.status, body?.detail ?? `HTTP ${xhr.status}`, body));
      }
    };
    xhr.onerror = () => reject(new UploadError(0, "network error", null));
    xhr.onabort = () => reject(new UploadError(0, "cancelled", null));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}

/** Reads what was dropped: files, folders (walked recursively) and zips, as upload items. */
export async function itemsFromDrop(transfer: DataTransfer): Promise<UploadItem[]> {
  const entries = Array.from(transfer.items ?? [])
    .map((item) => (item.kind === "file" && "webkitGetAsEntry" in item ? item.webkitGetAsEntry() : null))
    .filter((entry): entry is FileSystemEntry => entry !== null);
  if (!entries.length) return itemsFromFiles(Array.from(transfer.files ?? []));
  const files: { file: File; path: string }[] = [];
  for (const entry of entries) await walk(entry, files);
  return files.map(({ file, path }, index) => ({ key: `${index}:${path}`, file, path }));
}

async function walk(entry: FileSystemEntry, out: { file: File; path: string }[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    if (!file.name.startsWith(".")) out.push({ file, path: entry.fullPath.replace(/^\//, "") });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    // readEntries answers in chunks (100 in Chromium) until it returns an empty list
    const chunk = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (!chunk.length) break;
    for (const child of chunk) await walk(child, out);
  }
}

export function itemsFromFiles(files: File[]): UploadItem[] {
  return files
    .filter((file) => !file.name.startsWith("."))
    .map((file, index) => {
      const path = file.webkitRelativePath || file.name;
      return { key: `${index}:${path}`, file, path };
    });
}
