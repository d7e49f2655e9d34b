import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { Route, Routes } from "react-router";

import { page, routeFetch } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { PatientPage } from "../PatientPage";
import { WorklistPage } from "./WorklistPage";

vi.mock("../../viewer/ViewerLoader", () => ({ LazyStudyViewer: () => <div data-testid="viewer-stub" /> }));

const STUDY = {
  id: 7, study_instance_uid: "1.2.826.7", orthanc_id: "o", patient: "p-1", status: "LINKED", reconciliation_reason: "", dicom_patient_id: "MRN-1",
  accession_number: "ACC1", order: 3, modality: "MR", study_date: "2026-11-20", description: "Brain MRI", number_of_series: 4,
  number_of_instances: 620, source: "upload", created_at: "2026-11-20T10:00:00Z", updated_at: "2026-11-20T10:00:00Z",
};
const ORDER = {
  id: 3, accession_number: "ACC1", patient: "p-1", ordered_by: "doc", modality: "MR", body_part: "BRAIN", reason: "headache", priority: "URGENT",
  status: "SCHEDULED", allowed_transitions: ["IN_PROGRESS", "CANCELLED"], scheduled_for: null, created_at: "2026-11-19T10:00:00Z", updated_at: "2026-11-19T10:00:00Z",
};
const KIM = { emr_uuid: "p-1", emr_pid: "1", mrn: "MRN-1", family_name: "김", given_name: "민수", birth_date: "1980-02-03", sex: "Male", fetched_at: "2026-11-26T00:00:00Z" };
const NURSE = { id: 4, username: "nurse", first_name: "", last_name: "", roles: ["NURSE"], is_service_account: false };
const DOCTOR = { ...NURSE, username: "doc", roles: ["DOCTOR"] };

describe("imaging worklist", () => {
  it("filters studies by status, modality, patient and dates", async () => {
    const calls = routeFetch([["/api/radiology/studies", page([STUDY])]]);
    renderPage(<WorklistPage me={NURSE} />);
    expect(await screen.findByText("Brain MRI")).toBeTruthy();
    expect(screen.queryByRole("link", { name: "DICOM 업로드" })).toBeNull(); // a nurse has no upload
    fireEvent.change(screen.getByLabelText("시작일"), { target: { value: "2026-11-01" } });
    fireEvent.change(screen.getByLabelText("환자 (EMR ID)"), { target: { value: "p-1" } });
    await waitFor(() => {
      const last = calls[calls.length - 1].url;
      expect(last).toContain("date_from=2026-11-01");
      expect(last).toContain("patient=p-1");
    });
  });

  it("lists orders with the transitions the API allows", async () => {
    const calls = routeFetch([
      [/\/api\/radiology\/orders\/3\/transition$/, () => ({ status: 200, body: { ...ORDER, status: "IN_PROGRESS" } })],
      ["/api/radiology/orders", page([ORDER])],
      ["/api/radiology/studies", page([])],
    ]);
    renderPage(<WorklistPage me={{ ...NURSE, roles: ["RIB"] }} />);
    fireEvent.click(await screen.findByRole("tab", { name: "영상 검사 오더" }));
    expect(await screen.findByText("headache")).toBeTruthy();
    expect(screen.getByText("긴급")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "시작" }));
    await waitFor(() => expect(calls.some((call) => call.url.endsWith("/transition"))).toBe(true));
    const post = calls.find((call) => call.url.endsWith("/transition"))!;
    expect(JSON.parse(String(post.init.body))).toEqual({ status: "IN_PROGRESS" });
  });
});

describe("patient page imaging", () => {
  function renderPatient(me = DOCTOR) {
    const calls = routeFetch([
      ["/api/auth/me", me],
      ["/api/radiology/studies", page([STUDY])],
      [/\/api\/radiology\/orders$/, (_url, init) => ({ status: 201, body: { ...ORDER, id: 9, ...JSON.parse(String(init.body)) } })],
      ["/api/radiology/orders", page([ORDER])],
      ["/api/ai/jobs", page([])],
      [/\/api\/patients\/p-1$/, { ...KIM, record: {} }],
      [/\/api\/patients\/p-1\/timeline/, page([])],
      ["/api/patients/p-1/tumour-course", { patient: "p-1", studies: [], labels: {}, undated_study_ids: [] }],
      ["/api/patients/p-1/", { patient: "p-1", section: "x", results: [] }],
    ]);
    renderPage(
      <Routes>
        <Route path="/patients/:puuid" element={<PatientPage />} />
      </Routes>,
      "/patients/p-1",
    );
    return calls;
  }

  it("lists the patient's studies and lets a doctor order imaging", async () => {
    const calls = renderPatient();
    expect(await screen.findByText("Brain MRI")).toBeTruthy();
    expect(calls.some((call) => call.url.startsWith("/api/radiology/studies?patient=p-1"))).toBe(true);
    fireEvent.click(await screen.findByRole("button", { name: "영상 검사 오더" }));
    fireEvent.change(await screen.findByLabelText(/검사 사유/), { target: { value: "follow-up of lesion" } });
    fireEvent.click(screen.getByRole("button", { name: "오더 등록" }));
    await waitFor(() => expect(calls.some((call) => call.url === "/api/radiology/orders" && call.init.method === "POST")).toBe(true));
    const post = calls.find((call) => call.url === "/api/radiology/orders" && call.init.method === "POST")!;
    expect(JSON.parse(String(post.init.body))).toEqual({ patient: "p-1", modality: "MR", body_part: "BRAIN", reason: "follow-up of lesion", priority: "ROUTINE" });
  });

  it("offers no ordering to a nurse", async () => {
    renderPatient(NURSE);
    expect(await screen.findByText("Brain MRI")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "영상 검사 오더" })).toBeNull();
  });
});
