import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import i18n from "../../i18n";
import { niceCeiling } from "../../components/charts";
import { routeFetch } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { TumourCourseSection, formatPercent } from "./TumourCourse";

// as GET /api/patients/{puuid}/tumour-course answers (backend/ai/course.py; the figures of
// backend/ai/tests/test_course.py: lesion 10 -> 3.5 -> 4.9 mL)
const ROW = { nadir_ml: null, change_from_baseline_percent: null, change_from_nadir_percent: null };
const COURSE = {
  patient: "p-1",
  studies: [],
  labels: {
    lesion: [
      { ...ROW, study_id: 1, study_date: "2026-01-05", result_id: 11, volume_ml: 10, baseline_ml: 10, category: "baseline", category_display: "baseline" },
      { study_id: 2, study_date: "2026-03-02", result_id: 12, volume_ml: 3.5, baseline_ml: 10, nadir_ml: 10, change_from_baseline_percent: -65, change_from_nadir_percent: -65, category: "PR", category_display: "partial response (volumetric)" },
      { study_id: 3, study_date: "2026-05-04", result_id: 13, volume_ml: 4.9, baseline_ml: 10, nadir_ml: 3.5, change_from_baseline_percent: -51, change_from_nadir_percent: 40, category: "PD", category_display: "progression (volumetric)" },
    ],
  },
  unit: "mL",
  thresholds: { partial_response_decrease_percent: 65, progression_increase_percent: 40, complete_response_confirmation_days: 28 },
  source: "Volumetric equivalents of RANO 2010 (Wen et al., J Clin Oncol 2010).",
  label: "volumetric, RANO-style aid; not a RANO assessment",
  undated_study_ids: [],
};

describe("tumour course section", () => {
  it("charts volume against study date with units on both axes, and lists the changes and categories", async () => {
    await i18n.changeLanguage("en");
    const calls = routeFetch([["/api/patients/p-1/tumour-course", COURSE]]);
    renderPage(<TumourCourseSection puuid="p-1" />);
    const chart = await screen.findByTestId("dated-line-chart");
    expect(calls[0].url).toBe("/api/patients/p-1/tumour-course");
    expect(within(chart).getByText("Study date (YYYY-MM-DD)")).toBeTruthy();
    expect(within(chart).getByText("Volume (mL)")).toBeTruthy();
    expect(within(chart).getAllByTestId("x-tick").map((tick) => tick.textContent)).toEqual(["2026-01-05", "2026-03-02", "2026-05-04"]);
    expect(within(chart).getByTestId("series-lesion").querySelectorAll("circle")).toHaveLength(3);
    expect(screen.getByTestId("course-aid").textContent).toContain("not a RANO assessment");
    expect(screen.getByText("partial response")).toBeTruthy();
    expect(screen.getByText("progression")).toBeTruthy();
    expect(screen.getAllByText("-65.0 %")).toHaveLength(2); // from baseline and from nadir at the second study
    expect(screen.getByText("+40.0 %")).toBeTruthy();
    expect(screen.getByText("4.90")).toBeTruthy();
    expect(screen.getByText(/Wen et al/)).toBeTruthy();
  });

  it("speaks Korean and says when there is nothing to chart", async () => {
    await i18n.changeLanguage("ko");
    routeFetch([["/api/patients/p-2/tumour-course", { ...COURSE, patient: "p-2", labels: {} }]]);
    renderPage(<TumourCourseSection puuid="p-2" />);
    expect(await screen.findByText("검사일이 있는 서명된 분할 결과가 아직 없습니다.")).toBeTruthy();
    expect(screen.getByText("종양 경과")).toBeTruthy();
    expect(screen.queryByTestId("dated-line-chart")).toBeNull();
    await i18n.changeLanguage("en");
  });

  it("formats and scales", () => {
    expect(formatPercent(null)).toBe("–");
    expect(formatPercent(25)).toBe("+25.0 %");
    expect(niceCeiling(10.5)).toBe(20);
    expect(niceCeiling(3)).toBe(5);
    expect(niceCeiling(0.42)).toBe(0.5);
  });
});
