import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import i18n from "../../i18n";
import { routeFetch } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { BoardTab } from "./BoardTab";

// as GET /api/patients/{id}/board answers (backend/board/selectors.py, openapi.yaml BoardSummary)
const SUMMARY = {
  patient: { emr_uuid: "p-1", mrn: "MRN1", family_name: "김", given_name: "민준", birth_date: "1960-01-02", sex: "Male" },
  imaging: {
    study: { id: 7, study_instance_uid: "1.2.3", study_date: "2026-11-30", modality: "MR", description: "MRI brain", number_of_series: 4 },
    series: { id: 70, description: "AX FLAIR" },
    thumbnail_url: "/api/radiology/studies/7/series/70/thumbnail",
    overlay: { result_id: 9, job_id: "j-9", status: "PRELIMINARY", model: "mri-lesion-demo 1.0.0", summary: "lesion 12.0 mL", url: "/api/ai/jobs/j-9/artifacts/overlay-011" },
  },
  volume_trend: [
    { date: "2026-03-02", study_id: 1, result_id: 1, volumes_ml: { lesion: 14.2 } },
    { date: "2026-06-01", study_id: 2, result_id: 2, volumes_ml: { lesion: 9.8, edema: 3.25 } },
  ],
  omics: {
    result_id: 5, job_id: "j-5", status: "FINAL", model: "omics-risk-demo 1.0.0", risk_group: "high", risk_score: 1.234, percentile: 91.5,
    disclaimer: "Trained on a public breast-cancer cohort.", created_at: "2026-11-01T09:00:00Z",
  },
  problems: [{ title: "Glioblastoma", begdate: "2025-01-02", enddate: null, diagnosis: "ICD10:C71.9" }],
  medications: [{ title: "Temozolomide", begdate: "2025-02-01", enddate: null, diagnosis: "" }],
  emr_error: null,
  pending_signoffs: [{ result_id: 9, job_id: "j-9", task: "segmentation", model: "mri-lesion-demo 1.0.0", study_id: 7, created_at: "2026-12-01T08:00:00Z" }],
  generated_at: "2026-12-04T10:00:00Z",
};

beforeEach(async () => {
  await i18n.changeLanguage("en");
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the tumour-board tab", () => {
  it("shows each part of the summary", async () => {
    routeFetch([["/api/patients/p-1/board", SUMMARY]]);
    renderPage(<BoardTab puuid="p-1" roles={["NURSE"]} />);

    const imaging = await screen.findByTestId("board-imaging");
    expect(within(imaging).getByRole("img", { name: "Study thumbnail" }).getAttribute("src")).toBe(SUMMARY.imaging.thumbnail_url);
    expect(within(imaging).getByRole("img", { name: "AI segmentation overlay" }).getAttribute("src")).toBe(SUMMARY.imaging.overlay.url);
    const trend = screen.getByTestId("board-trend");
    expect(within(trend).getByText("edema (mL)")).toBeTruthy();
    expect(within(trend).getByText("14.2")).toBeTruthy();
    expect(within(trend).getByText("3.3")).toBeTruthy();
    expect(within(screen.getByTestId("board-omics")).getByText(/Risk group: high/)).toBeTruthy();
    expect(within(screen.getByTestId("board-omics")).getByText(/91\.5/)).toBeTruthy();
    expect(within(screen.getByTestId("board-problems")).getByText(/Glioblastoma/)).toBeTruthy();
    expect(within(screen.getByTestId("board-medications")).getByText(/Temozolomide/)).toBeTruthy();
    fireEvent.error(within(imaging).getByRole("img", { name: "Study thumbnail" }));
    expect(within(imaging).getByText("Study thumbnail: not available.")).toBeTruthy();
    expect(within(screen.getByTestId("board-pending")).getByRole("link", { name: "mri-lesion-demo 1.0.0" }).getAttribute("href")).toBe("/ai/jobs/j-9");
  });

  it("prints, links the PDF in the UI's language, and hides sharing from nurses", async () => {
    routeFetch([["/api/patients/p-1/board", SUMMARY]]);
    await i18n.changeLanguage("ko");
    const print = vi.spyOn(window, "print").mockImplementation(() => {});
    renderPage(<BoardTab puuid="p-1" roles={["NURSE"]} />);

    await screen.findByTestId("board-imaging");
    fireEvent.click(screen.getByRole("button", { name: "인쇄" }));
    expect(print).toHaveBeenCalledOnce();
    expect(screen.getByRole("link", { name: "PDF 내려받기" }).getAttribute("href")).toBe("/api/patients/p-1/board.pdf?lang=ko");
    expect(screen.queryByRole("button", { name: "EMR(FHIR)에 공유" })).toBeNull();
    expect(screen.getByText("종양 다학제 회의 요약: 김 민준 (MRN1)")).toBeTruthy();
  });

  it("shares with the FHIR server and says so", async () => {
    const calls = routeFetch([
      [/\/board\/share$/, () => ({ status: 202, body: { id: 12, patient: "p-1", created_by: "doc", language: "en", sha256: "ab", size: 1000, pending_signoffs: 1, created_at: "2026-12-04T10:01:00Z" } })],
      ["/api/patients/p-1/board", SUMMARY],
    ]);
    renderPage(<BoardTab puuid="p-1" roles={["DOCTOR"]} />);

    await screen.findByTestId("board-imaging");
    fireEvent.click(screen.getByRole("button", { name: "Share with the EMR (FHIR)" }));
    expect((await screen.findByTestId("board-shared")).textContent).toBe("Sent to the FHIR server as report 12.");
    const share = calls.find((call) => call.url.endsWith("/board/share"));
    expect(share?.init.method).toBe("POST");
  });

  it("keeps the rest of the summary when the EMR is down", async () => {
    routeFetch([["/api/patients/p-1/board", { ...SUMMARY, problems: [], medications: [], emr_error: "openemr: unavailable" }]]);
    renderPage(<BoardTab puuid="p-1" roles={["DOCTOR"]} />);

    expect(await within(await screen.findByTestId("board-problems")).findByText(/openemr: unavailable/)).toBeTruthy();
    await waitFor(() => expect(within(screen.getByTestId("board-trend")).getByText("9.8")).toBeTruthy());
  });
});
