import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import i18n from "../../i18n";
import { SignedInRoutes } from "../../App";
import { page, routeFetch } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { SignOffWorklistPage, formatAge } from "./SignOffWorklistPage";

const RADIOLOGIST = { id: 2, username: "radiologist", first_name: "", last_name: "", roles: ["RIB", "RADIOLOGIST"], is_service_account: false };
const RADIOGRAPHER = { ...RADIOLOGIST, id: 3, username: "radiographer", roles: ["RIB"] };

// as GET /api/ai/worklist answers (backend/openapi.yaml WorklistItem), in the API's order
function item(resultId: number, priority: string, ageSeconds: number, fields: Record<string, unknown> = {}) {
  return {
    result_id: resultId, job_id: `job-${resultId}`, task: "segmentation", model_name: "mri-lesion-demo", model_version: "1.0.0",
    patient: `p-${resultId}`, patient_name: `환자 ${resultId}`, mrn: `MRN${resultId}`, study: resultId, accession_number: `CDSS${resultId}`,
    priority, summary: "2 lesions", requested_by: "doctor", created_at: "2026-12-04T10:00:00Z", age_seconds: ageSeconds, ...fields,
  };
}

describe("sign-off worklist", () => {
  it("lists the results in the API's order with priority, age, patient and model, each linking to its result", async () => {
    const calls = routeFetch([
      ["/api/ai/worklist", page([item(3, "STAT", 3600 * 5), item(2, "URGENT", 600), item(1, "ROUTINE", 3 * 86400 + 7200, { accession_number: null, task: "omics-risk", study: null })])],
    ]);
    renderPage(<SignOffWorklistPage />, "/worklist");
    const rows = await screen.findAllByTestId("sign-off-row");
    expect(rows).toHaveLength(3);
    expect(within(rows[0]).getByText("응급")).toBeTruthy();
    expect(within(rows[0]).getByText("5시간 0분")).toBeTruthy();
    expect(within(rows[1]).getByText("긴급")).toBeTruthy();
    expect(within(rows[1]).getByText("10분")).toBeTruthy();
    expect(within(rows[2]).getByText("3일 2시간")).toBeTruthy();
    const link = within(rows[0]).getByRole("link", { name: "환자 3 (MRN3)" });
    expect(link.getAttribute("href")).toBe("/ai/jobs/job-3");
    expect(within(rows[0]).getByText("mri-lesion-demo 1.0.0")).toBeTruthy();
    expect(screen.getByText("3건 대기 중")).toBeTruthy();
    expect(calls[0].url).toBe("/api/ai/worklist?page=1");
  });

  it("shows which results await their second read and who gave the first", async () => {
    routeFetch([
      ["/api/ai/worklist", page([
        item(5, "ROUTINE", 60, { second_reader_required: true, first_reader: "radiologist", first_read_at: "2026-12-04T10:05:00Z", awaiting_second_read: true }),
        item(4, "ROUTINE", 60, { second_reader_required: true, first_reader: null, awaiting_second_read: false }),
        item(3, "ROUTINE", 60, { second_reader_required: false, first_reader: null, awaiting_second_read: false }),
      ])],
    ]);
    renderPage(<SignOffWorklistPage />, "/worklist");
    const rows = await screen.findAllByTestId("sign-off-row");
    expect(within(rows[0]).getByText("2차 판독 대기")).toBeTruthy();
    expect(within(rows[0]).getByText("1차 판독: radiologist")).toBeTruthy();
    expect(within(rows[1]).getByText("판독자 2명")).toBeTruthy();
    expect(within(rows[1]).queryByTestId("awaiting-second-read")).toBeNull();
    expect(within(rows[2]).queryByText("판독자 2명")).toBeNull();
  });

  it("says awaiting second read in English too", async () => {
    await i18n.changeLanguage("en");
    try {
      routeFetch([["/api/ai/worklist", page([item(5, "ROUTINE", 60, { second_reader_required: true, first_reader: "radiologist", awaiting_second_read: true })])]]);
      renderPage(<SignOffWorklistPage />, "/worklist");
      expect(await screen.findByText("Awaiting second read")).toBeTruthy();
      expect(screen.getByText("First read by radiologist")).toBeTruthy();
    } finally {
      await i18n.changeLanguage("ko");
    }
  });

  it("says when nothing waits", async () => {
    routeFetch([["/api/ai/worklist", page([])]]);
    renderPage(<SignOffWorklistPage />, "/worklist");
    expect(await screen.findByText("판독 승인을 기다리는 결과가 없습니다.")).toBeTruthy();
  });

  it("is in a radiologist's menu and closed to a radiographer", async () => {
    routeFetch([["/api/ai/worklist", page([item(1, "ROUTINE", 60)])], ["/api/", { count: 0, next: null, previous: null, results: [] }]]);
    renderPage(<SignedInRoutes me={RADIOLOGIST} />, "/worklist");
    expect(await screen.findByRole("link", { name: "판독 승인" })).toBeTruthy();
    expect(await screen.findAllByTestId("sign-off-row")).toHaveLength(1);
  });

  it("refuses a radiographer without asking the API", async () => {
    const calls = routeFetch([]);
    renderPage(<SignedInRoutes me={RADIOGRAPHER} />, "/worklist");
    expect(await screen.findByTestId("no-access")).toBeTruthy();
    expect(screen.queryByRole("link", { name: "판독 승인" })).toBeNull();
    expect(calls.some((call) => call.url.startsWith("/api/ai/worklist"))).toBe(false);
  });

  it("formats ages in English too", () => {
    const t = i18n.getFixedT("en");
    expect(formatAge(59, t)).toBe("0 min");
    expect(formatAge(3 * 3600 + 20 * 60, t)).toBe("3 h 20 min");
    expect(formatAge(2 * 86400 + 4 * 3600, t)).toBe("2 d 4 h");
  });
});
