// Which server is not answering the viewer, if any: set while a DICOMweb request is being tried again after a 503
// and cleared by the next answer, so the viewer says why its images stopped coming instead of waiting in silence.
// nginx's 503 names the system it could not reach (`"system"`: "orthanc", or "cdss-api" when the CDSS itself is
// down); a 503 that names none is taken as the PACS's. One fact for the whole page: every viewer reads through the
// same gateway.
import { useSyncExternalStore } from "react";

export type Unanswering = "pacs" | "cdss" | null;

let unanswering: Unanswering = null;
const listeners = new Set<() => void>();

export function setUnanswering(value: Unanswering): void {
  if (value === unanswering) return;
  unanswering = value;
  listeners.forEach((listener) => listener());
}

/** The server a 503's body names (nginx's and the API's errors say `"system"`). */
export function unansweringServer(system: unknown): Exclude<Unanswering, null> {
  return system === "cdss-api" ? "cdss" : "pacs";
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function currentUnanswering(): Unanswering {
  return unanswering;
}

export function useUnanswering(): Unanswering {
  return useSyncExternalStore(subscribe, currentUnanswering);
}
