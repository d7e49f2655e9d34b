// The AI overlay of a study: the DICOM SEG artifact of a segmentation result, as an overlay source the
// viewer offers (the result page shows its own result's; a study pane its study's latest result's).
import { useMemo } from "react";
import { useTranslation } from "react-i18next";

import { artifactUrl, useAiJobs } from "../api/ai";
import type { AiJob, AiResult } from "../api/ai";
import type { OverlaySource } from "./useOverlayChoices";

export const AI_OVERLAY_KEY = "ai";

/** The result's SEG artifact as an overlay; null when the result has none. */
export function aiSegOverlay(job: AiJob, result: AiResult, label: string): OverlaySource | null {
  const seg = result.artifacts.find((artifact) => artifact.name === "seg");
  if (!seg) return null;
  const url = seg.url || artifactUrl(job.id, "seg");
  return {
    key: AI_OVERLAY_KEY,
    label,
    load: async () => {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.arrayBuffer();
    },
  };
}

/** The newest completed segmentation of the study whose result stands (not rejected, not superseded) and
 * has a SEG; results awaiting sign-off count too (the label says which). */
export function latestSegmentation(jobs: AiJob[]): { job: AiJob; result: AiResult } | null {
  const standing = jobs
    .filter((job) => job.task === "segmentation" && job.status === "COMPLETED")
    .flatMap((job) => (job.result && job.result.status !== "CANCELLED" && !job.result.superseded_by && job.result.artifacts.some((a) => a.name === "seg") ? [{ job, result: job.result }] : []))
    .sort((a, b) => (b.job.finished_at ?? b.job.created_at).localeCompare(a.job.finished_at ?? a.job.created_at));
  return standing[0] ?? null;
}

/** The overlays a pane of `studyId` offers: its latest AI segmentation's SEG, or none (also while loading). */
export function useStudyAiOverlays(studyId: number | undefined): OverlaySource[] {
  const { t } = useTranslation();
  const jobs = useAiJobs({ study: studyId }, studyId !== undefined);
  const latest = latestSegmentation(jobs.data?.results ?? []);
  const job = latest?.job;
  const result = latest?.result;
  return useMemo(() => {
    if (!job || !result) return [];
    const overlay = aiSegOverlay(job, result, t("viewer.aiOverlayOf", { status: t(`status.${result.status}`, { defaultValue: result.status }) }));
    return overlay ? [overlay] : [];
  }, [job, result, t]); // the query keeps an unchanged job the same object
}
