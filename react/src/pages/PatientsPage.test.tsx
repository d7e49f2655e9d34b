import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { renderPage, scriptFetch } from "../test/render";
import { PatientPage } from "./PatientPage";
import { PatientsPage } from "./PatientsPage";
import { Route, Routes } from "react-router";

const KIM = {
  emr_uuid: "p-1", emr_pid: "1", mrn: "MRN-1", family_name: "김", given_name: "민수", birth_date: "1980-02-03",
  sex: "Male", fetched_at: "2026-11-26T00:00:00Z",
};

describe("patients list", () => {
  it("lists patients and searches", async () => {
    const calls = scriptFetch({ status: 200, body: { count: 1, next: null, previous: null, results: [KIM] } });
    renderPage(<PatientsPage />);
    expect(await screen.findByText("김 민수")).toBeTruthy();
    fireEvent.change(screen.getByRole("textbox"), { target: { value: "MRN-1" } });
    await waitFor(() => expect(calls.some((call) => call.url.includes("q=MRN-1"))).toBe(true));
  });
});

describe("patient page", () => {
  it("loads each section on its own and shows which system failed", async () => {
    globalThis.fetch = (async (url: string) => {
      const body = url.endsWith("/problems")
        ? { status: 503, error: "external_system", detail: "connection failed", system: "emr" }
        : url.endsWith("/timeline")
          ? { count: 0, next: null, previous: null, results: [] }
          : url.endsWith("/tumour-course")
            ? { patient: "p-1", studies: [], labels: {}, undated_study_ids: [] }
            : url.match(/\/api\/patients\/p-1$/)
              ? { ...KIM, record: {} }
              : { patient: "p-1", section: "x", results: [] };
      const status = url.endsWith("/problems") ? 503 : 200;
      return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    }) as typeof fetch;
    renderPage(
      <Routes>
        <Route path="/patients/:puuid" element={<PatientPage />} />
      </Routes>,
      "/patients/p-1",
    );
    expect(await screen.findByText("김 민수")).toBeTruthy();
    const alert = await screen.findByRole("alert", {}, { timeout: 15_000 }); // after the section's one retry
    expect(alert.textContent).toContain("EMR");
    expect((await screen.findAllByText("기록이 없습니다.")).length).toBeGreaterThan(0);
  });
});
