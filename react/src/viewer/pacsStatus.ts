// Whether the PACS answers the viewer: set while a DICOMweb request is being tried again after a 503 (the gateway
// says Orthanc, or the CDSS, cannot be reached) and cleared by the next answer, so the viewer says why its images
// stopped coming instead of waiting in silence. One fact for the whole page: every viewer reads the same PACS.
import { useSyncExternalStore } from "react";

let unavailable = false;
const listeners = new Set<() => void>();

export function setPacsUnavailable(value: boolean): void {
  if (value === unavailable) return;
  unavailable = value;
  listeners.forEach((listener) => listener());
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function isPacsUnavailable(): boolean {
  return unavailable;
}

export function usePacsUnavailable(): boolean {
  return useSyncExternalStore(subscribe, isPacsUnavailable);
}
