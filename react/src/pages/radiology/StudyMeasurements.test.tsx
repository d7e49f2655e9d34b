import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { routeFetch } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { StudyMeasurements, measurementText } from "./StudyMeasurements";

const REPORT = {
  sop_instance_uid: "9.1", series_instance_uid: "9", orthanc_id: "o", observer: "김 민지", observer_login: "kim", created_at: "2026-12-04T10:15:00",
  measurements: [
    { kind: "length", label: "Length 1", tracking_uid: "7.1", sop_instance_uid: "1.2.1.1", series_instance_uid: "1.2.1", frame: null, points: [[0, 0], [3, 4]], length_mm: 12.34 },
    { kind: "ellipse", label: "병변 A", tracking_uid: "7.2", sop_instance_uid: "1.2.1.2", series_instance_uid: "1.2.1", frame: 3,
      points: [[20, 32], [44, 32], [32, 24], [32, 40]], area_mm2: 78.54, mean: -12.5, mean_unit: "[hnsf'U]" },
  ],
}; // prettier-ignore

describe("study measurements", () => {
  it("list who measured what, when, and on which image", async () => {
    const calls = routeFetch([["/api/radiology/studies/7/measurements", [REPORT]]]);
    renderPage(<StudyMeasurements studyId={7} />);
    const rows = await screen.findAllByRole("row");
    expect(rows.slice(1).map((row) => within(row).getAllByRole("cell").map((cell) => cell.textContent))).toEqual([
      ["김 민지", "2026-12-04 10:15:00", "길이 · Length 1", "12.3 mm", "1.2.1.1"],
      ["김 민지", "2026-12-04 10:15:00", "타원 · 병변 A", "78.5 mm² · 평균 -12.5 HU", "1.2.1.2 #3"],
    ]);
    expect(calls[0].url).toBe("/api/radiology/studies/7/measurements");
  });

  it("say when there are none", async () => {
    routeFetch([["/api/radiology/studies/7/measurements", []]]);
    renderPage(<StudyMeasurements studyId={7} />);
    expect(await screen.findByText("저장된 계측이 없습니다.")).toBeTruthy();
  });

  it("says a measurement's values", () => {
    const [length, ellipse] = REPORT.measurements;
    expect(measurementText({ ...length, length_mm: 25 } as never, "mean")).toBe("25.0 mm");
    expect(measurementText({ ...ellipse, mean: 412.3, mean_unit: "[arb'U]" } as never, "평균")).toBe("78.5 mm² · 평균 412.3");
    expect(measurementText({ ...ellipse, mean: -3 } as never, "mean")).toBe("78.5 mm² · mean -3.0 HU");
  });
});
