import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useRef, useState } from "react";

import { UploadError, assignResults, batches, sendBatch, spreadLoaded } from "../api/upload";
import type { ItemProgress, UploadItem } from "../api/upload";
import type { UploadResponse } from "../api/types";

export interface UploadState {
  items: UploadItem[];
  progress: Record<string, ItemProgress>;
  running: boolean;
  studies: UploadResponse["studies"];
}

const EMPTY: UploadState = { items: [], progress: {}, running: false, studies: [] };

/** Sends the items batch after batch and keeps per-file and overall progress and results. */
export function useDicomUpload() {
  const client = useQueryClient();
  const [state, setState] = useState<UploadState>(EMPTY);
  const abort = useRef<AbortController | null>(null);

  const patch = useCallback((changes: Record<string, Partial<ItemProgress>>) => {
    setState((previous) => {
      const progress = { ...previous.progress };
      for (const [key, change] of Object.entries(changes)) progress[key] = { ...progress[key], ...change };
      return { ...previous, progress };
    });
  }, []);

  const start = useCallback(
    async (items: UploadItem[]) => {
      const controller = new AbortController();
      abort.current = controller;
      const progress: Record<string, ItemProgress> = {};
      for (const item of items) progress[item.key] = { state: "waiting", loaded: 0, results: [] };
      setState({ items, progress, running: true, studies: [] });
      for (const batch of batches(items)) {
        if (controller.signal.aborted) {
          patch(Object.fromEntries(batch.map((item) => [item.key, { state: "failed" as const, error: "cancelled" }])));
          continue;
        }
        patch(Object.fromEntries(batch.map((item) => [item.key, { state: "sending" as const }])));
        const sizes = batch.map((item) => item.file.size);
        try {
          const body = await sendBatch(
            batch,
            (loaded, total) => {
              const spread = spreadLoaded(sizes, loaded, total);
              patch(Object.fromEntries(batch.map((item, index) => [item.key, { loaded: spread[index] }])));
            },
            controller.signal,
          );
          finish(batch, body);
        } catch (caught) {
          const error = caught instanceof UploadError ? caught : new UploadError(0, String(caught), null);
          if (error.body?.results) {
            finish(batch, error.body as UploadResponse); // nothing stored: each file says why
          } else {
            patch(Object.fromEntries(batch.map((item) => [item.key, { state: "failed" as const, error: error.message }])));
          }
        }
      }
      setState((previous) => ({ ...previous, running: false }));
      void client.invalidateQueries({ queryKey: ["radiology"] });

      function finish(batch: UploadItem[], body: UploadResponse) {
        const assigned = assignResults(batch, body.results ?? []);
        patch(
          Object.fromEntries(
            batch.map((item, index) => [item.key, { state: "done" as const, loaded: item.file.size, results: assigned[index] }]),
          ),
        );
        setState((previous) => ({ ...previous, studies: [...previous.studies, ...(body.studies ?? [])] }));
      }
    },
    [client, patch],
  );

  const cancel = useCallback(() => abort.current?.abort(), []);
  const reset = useCallback(() => setState(EMPTY), []);

  const total = state.items.reduce((sum, item) => sum + item.file.size, 0);
  const loaded = state.items.reduce((sum, item) => sum + (state.progress[item.key]?.loaded ?? 0), 0);
  const overall = total ? Math.round((loaded / total) * 100) : 0;
  return { ...state, overall, start, cancel, reset };
}
