import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { describe, expect, it } from "vitest";

import "../i18n";
import type { AiJob } from "../api/ai";
import type { Study } from "../api/types";
import { page, routeFetch } from "../test/fakes";
import { aiSegOverlay, latestSegmentation, useStudyAiOverlays } from "./aiOverlay";
import { earlierStudies, primaryModality, usePriorStudies } from "./usePriorStudies";

const STUDY = {
  id: 7, study_instance_uid: "1.2.7", orthanc_id: "o7", patient: "p-1", status: "LINKED", reconciliation_reason: "", conflicting_with: null,
  dicom_patient_id: "MRN-1", accession_number: "", order: null, modality: "MR\\SEG", study_date: "2026-11-24", description: "Brain MRI",
  number_of_series: 4, number_of_instances: 380, source: "upload", created_at: "2026-11-24T10:00:00Z", updated_at: "2026-11-24T10:00:00Z",
} as unknown as Study;
const at = (id: number, study_date: string | null, extra: Partial<Study> = {}) => ({ ...STUDY, id, study_date, orthanc_id: `o${id}`, ...extra }) as Study;

function job(id: string, finished: string, result: Record<string, unknown> | null, extra: Record<string, unknown> = {}): AiJob {
  return {
    id, task: "segmentation", status: "COMPLETED", study: 7, created_at: finished, finished_at: finished,
    result: result && { status: "FINAL", superseded_by: null, artifacts: [{ name: "seg", content_type: "application/dicom", size: 1, url: `/api/ai/jobs/${id}/artifacts/seg` }], ...result },
    ...extra,
  } as unknown as AiJob;
}

function wrapper({ children }: { children: ReactNode }) {
  return <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>{children}</QueryClientProvider>;
}

describe("earlier studies", () => {
  it("keeps the linked studies dated before the current one, newest first", () => {
    const studies = [at(1, "2026-06-02"), at(7, "2026-11-24"), at(3, "2026-09-01"), at(4, "2026-11-24"), at(5, null), at(6, "2026-08-01", { status: "CONFLICT" }), at(2, "2026-09-01")];
    expect(earlierStudies(STUDY, studies).map((study) => study.id)).toEqual([3, 2, 1]);
    expect(earlierStudies({ id: 7, study_date: null }, studies)).toEqual([]);
  });

  it("compares studies of the current study's primary modality", () => {
    expect(primaryModality("MR\\SEG")).toBe("MR");
    expect(primaryModality("")).toBe("");
  });

  it("asks for the patient's studies up to the date and offers only those the PACS holds", async () => {
    const calls = routeFetch([
      [/\/api\/radiology\/studies\?/, page([at(7, "2026-11-24"), at(3, "2026-09-01"), at(1, "2026-06-02"), at(2, "2026-03-01")])],
      [/\/studies\/3$/, { ...at(3, "2026-09-01"), in_pacs: true, series: [] }],
      [/\/studies\/1$/, { ...at(1, "2026-06-02"), in_pacs: false, series: [] }], // the record of another PACS's study
      [/\/studies\/2$/, { ...at(2, "2026-03-01"), in_pacs: true, series: [] }],
    ]);
    const { result } = renderHook(() => usePriorStudies(STUDY), { wrapper });
    await waitFor(() => expect(result.current.loading).toBe(false));
    expect(result.current.priors.map((study) => study.id)).toEqual([3, 2]);
    expect(calls[0].url).toBe("/api/radiology/studies?patient=p-1&date_to=2026-11-24&modality=MR");
  });

  it("asks nothing for a study without a patient", () => {
    const calls = routeFetch([]);
    const { result } = renderHook(() => usePriorStudies({ ...STUDY, patient: "" }), { wrapper });
    expect(result.current).toEqual({ priors: [], loading: false });
    expect(calls).toEqual([]);
  });
});

describe("AI overlay of a study", () => {
  it("is the newest standing segmentation with a SEG", () => {
    const jobs = [
      job("old", "2026-11-24T10:00:00Z", {}),
      job("new", "2026-11-25T10:00:00Z", {}),
      job("rejected", "2026-11-26T10:00:00Z", { status: "CANCELLED" }),
      job("superseded", "2026-11-27T10:00:00Z", { superseded_by: "x" }),
      job("no-seg", "2026-11-28T10:00:00Z", { artifacts: [] }),
      job("running", "2026-11-29T10:00:00Z", null, { status: "RUNNING" }),
      job("omics", "2026-11-30T10:00:00Z", {}, { task: "omics-risk" }),
    ];
    expect(latestSegmentation(jobs)?.job.id).toBe("new");
    expect(latestSegmentation([])).toBeNull();
  });

  it("loads the SEG artifact's bytes, and is absent without one", async () => {
    const calls = routeFetch([["/api/ai/jobs/a/artifacts/seg", { seg: true }]]);
    const [a] = [job("a", "2026-11-24T10:00:00Z", {})];
    const overlay = aiSegOverlay(a, a.result!, "AI");
    expect(overlay).toMatchObject({ key: "ai", label: "AI" });
    expect(new TextDecoder().decode(await overlay!.load())).toBe('{"seg":true}');
    expect(calls[0].init.credentials).toBe("same-origin");
    expect(aiSegOverlay(a, { ...a.result!, artifacts: [] }, "AI")).toBeNull();
  });

  it("is offered for a study with its result's status in the label", async () => {
    routeFetch([[/\/api\/ai\/jobs\?study=7/, page([job("a", "2026-11-24T10:00:00Z", { status: "PRELIMINARY" })])]]);
    const { result } = renderHook(() => useStudyAiOverlays(7), { wrapper });
    await waitFor(() => expect(result.current).toHaveLength(1));
    expect(result.current[0].label).toBe("AI 분할 (예비)");
  });
});
