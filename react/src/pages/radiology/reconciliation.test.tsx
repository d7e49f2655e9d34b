import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { Route, Routes } from "react-router";

import { SignedInRoutes } from "../../App";

import type { ReconciliationItem } from "../../api/radiology";
import type { Me } from "../../api/types";
import { NotificationsProvider } from "../../notifications/NotificationsProvider";
import { FakeWebSocket, page, routeFetch } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { ReconciliationPage } from "./ReconciliationPage";
import { StudyPage } from "./StudyPage";
import { WorklistPage } from "./WorklistPage";

vi.mock("../../viewer/ViewerLoader", () => ({ LazyStudyViewer: () => <div data-testid="viewer-stub" /> }));

const user = (...roles: string[]): Me => ({ id: 2, username: roles.join("-").toLowerCase(), first_name: "", last_name: "", roles, is_service_account: false });
const RIB = user("RIB");

const RECONCILE: ReconciliationItem = {
  id: 5, study_instance_uid: "1.2.826.0.1.5", status: "RECONCILE", reason: "PatientID MRN-9 is not in the EMR",
  dicom_identity: { patient_id: "MRN-9", issuer_of_patient_id: "", patient_name: "KIM^MINSU", birth_date: "1980-02-03", sex: "M" },
  existing_study: null, modality: "MR", study_date: "2026-11-20", description: "Brain MRI", number_of_series: 1, number_of_instances: 12,
  source: "upload", created_at: "2026-12-01T10:00:00Z", thumbnail_url: "/api/radiology/studies/5/series/8/thumbnail",
  candidates: [
    { id: "p-1", mrn: "MRN-1", name: "김 민수", birth_date: "1980-02-03", sex: "Male", matched_on: ["name", "birth_date"] },
    { id: "p-2", mrn: "MRN-2", name: "이 영희", birth_date: "1975-05-05", sex: "Female", matched_on: [] },
  ],
};
const CONFLICT: ReconciliationItem = {
  ...RECONCILE, id: 6, status: "CONFLICT", reason: "StudyInstanceUID belongs to MRN-1's study", thumbnail_url: null,
  dicom_identity: { ...RECONCILE.dicom_identity, patient_id: "MRN-2", patient_name: "LEE^YOUNGHEE" },
  existing_study: { id: 4, patient: { id: "p-1", mrn: "MRN-1", name: "김 민수", birth_date: "1980-02-03" } },
  candidates: [{ id: "p-2", mrn: "MRN-2", name: "이 영희", birth_date: "1975-05-05", sex: "Female", matched_on: ["patient_id"] }],
};

function openItem(item: ReconciliationItem, me: Me, rules: Parameters<typeof routeFetch>[0] = []) {
  const calls = routeFetch([...rules, [`/api/radiology/reconciliation/${item.id}`, item]]);
  renderPage(
    <Routes>
      <Route path="/radiology/reconciliation/:itemId" element={<ReconciliationPage me={me} />} />
      <Route path="/radiology/studies/:studyId" element={<div data-testid="study-page" />} />
      <Route path="/radiology" element={<div data-testid="worklist" />} />
    </Routes>,
    `/radiology/reconciliation/${item.id}`,
  );
  return calls;
}

const posts = (calls: ReturnType<typeof routeFetch>) => calls.filter((call) => call.init.method === "POST");
const comment = () => screen.getByRole("textbox", { name: /사유 기록/ });

describe("needs-reconciliation tab", () => {
  it("shows a RIB how many studies wait and lists them", async () => {
    const calls = routeFetch([
      ["/api/radiology/reconciliation", { ...page([RECONCILE, CONFLICT]), count: 2 }],
      ["/api/radiology/studies", page([])],
    ]);
    renderPage(<WorklistPage me={RIB} />, "/radiology");
    expect((await screen.findByTestId("reconcile-count")).textContent).toBe("2");
    fireEvent.click(screen.getByRole("tab", { name: /환자 확인 필요/ }));
    const rows = await screen.findAllByTestId("reconcile-row");
    expect(rows).toHaveLength(2);
    expect(within(rows[1]).getByText("충돌")).toBeTruthy();
    expect(within(rows[0]).getByRole("link", { name: "KIM^MINSU (MRN-9)" }).getAttribute("href")).toBe("/radiology/reconciliation/5");
    fireEvent.click(within(screen.getByTestId("status-filter")).getByRole("radio", { name: "충돌" }));
    await waitFor(() => expect(calls.some((call) => call.url.includes("/api/radiology/reconciliation?status=CONFLICT&page=1"))).toBe(true));
  });

  it("shows no badge when nothing waits", async () => {
    routeFetch([["/api/radiology/reconciliation", page([])], ["/api/radiology/studies", page([])]]);
    renderPage(<WorklistPage me={RIB} />, "/radiology?tab=reconciliation");
    expect(await screen.findByText("환자 확인을 기다리는 검사가 없습니다.")).toBeTruthy();
    expect(screen.queryByTestId("reconcile-count")).toBeNull();
  });

  it("is not there for a nurse, and nothing of it is fetched", async () => {
    const calls = routeFetch([["/api/radiology/studies", page([])]]);
    renderPage(<WorklistPage me={user("NURSE")} />, "/radiology");
    expect(await screen.findByText("영상 검사가 없습니다.")).toBeTruthy();
    expect(screen.queryByRole("tab", { name: /환자 확인 필요/ })).toBeNull();
    expect(calls.filter((call) => call.url.includes("reconciliation"))).toHaveLength(0);
  });
});

describe("reconciliation page", () => {
  it("sets the images' identity beside the EMR candidates, matches marked", async () => {
    openItem(RECONCILE, RIB);
    const identity = await screen.findByTestId("dicom-identity");
    expect(within(identity).getByText("MRN-9")).toBeTruthy();
    expect(within(identity).getByText("KIM^MINSU")).toBeTruthy();
    expect(within(identity).getByRole("img").getAttribute("src")).toBe("/api/radiology/studies/5/series/8/thumbnail");
    const [kim, lee] = screen.getAllByTestId("candidate");
    expect(within(kim).getByTestId("match-name").textContent).toBe("김 민수");
    expect(within(kim).getByTestId("match-birth_date").textContent).toBe("1980-02-03");
    expect(within(kim).queryByTestId("match-patient_id")).toBeNull();
    expect(within(lee).queryByTestId("match-name")).toBeNull();
    expect(screen.getByTestId("reconcile-reason").textContent).toContain("PatientID MRN-9 is not in the EMR");
    expect(screen.queryByRole("button", { name: "영상 거부" })).toBeNull(); // only a conflict can be rejected
  });

  it("links to the chosen candidate with the comment, then opens the study", async () => {
    const calls = openItem(RECONCILE, RIB, [[/\/api\/radiology\/studies\/5\/link$/, () => ({ status: 200, body: { id: 5, status: "LINKED" } })]]);
    const link = await screen.findByRole("button", { name: "환자에 연결" });
    expect(link.hasAttribute("disabled")).toBe(true);
    fireEvent.click(screen.getByRole("radio", { name: "김 민수 (MRN-1) 선택" }));
    expect(screen.getByTestId("chosen-patient").textContent).toContain("김 민수 (MRN-1)");
    expect(link.hasAttribute("disabled")).toBe(true); // the comment is required
    fireEvent.change(comment(), { target: { value: "  Same name and birth date; ward confirmed.  " } });
    fireEvent.click(link);
    expect(await screen.findByTestId("study-page")).toBeTruthy();
    const [post] = posts(calls);
    expect(post.url).toBe("/api/radiology/studies/5/link");
    expect(JSON.parse(String(post.init.body))).toEqual({ patient: "p-1", comment: "Same name and birth date; ward confirmed." });
  });

  it("links to a patient found by search", async () => {
    const calls = openItem(RECONCILE, RIB, [
      [/\/api\/radiology\/studies\/5\/link$/, () => ({ status: 200, body: { id: 5, status: "LINKED" } })],
      ["/api/patients?q=park", page([{ emr_uuid: "p-7", emr_pid: "7", mrn: "MRN-7", family_name: "박", given_name: "지훈", birth_date: null, sex: "Male", fetched_at: "2026-12-01T00:00:00Z" }])],
    ]);
    fireEvent.change(await screen.findByRole("textbox", { name: "다른 환자 검색" }), { target: { value: "park" } });
    const results = await screen.findByTestId("patient-results");
    fireEvent.click(within(results).getByRole("button", { name: "선택" }));
    expect(screen.getByTestId("chosen-patient").textContent).toContain("박 지훈 (MRN-7)");
    fireEvent.change(comment(), { target: { value: "Registered under a new record number." } });
    fireEvent.click(screen.getByRole("button", { name: "환자에 연결" }));
    await screen.findByTestId("study-page");
    expect(JSON.parse(String(posts(calls)[0].init.body)).patient).toBe("p-7");
  });

  it("says why the API refused, and stays on the page", async () => {
    openItem(RECONCILE, RIB, [
      [/\/link$/, () => ({ status: 409, body: { status: 409, error: "conflict", detail: "The study is already linked.", fields: { patient: ["changed meanwhile"] } } })],
    ]);
    fireEvent.click(await screen.findByRole("radio", { name: "이 영희 (MRN-2) 선택" }));
    fireEvent.change(comment(), { target: { value: "why" } });
    fireEvent.click(screen.getByRole("button", { name: "환자에 연결" }));
    const alert = await within(screen.getByTestId("resolve")).findByRole("alert");
    expect(alert.textContent).toContain("저장하지 못했습니다");
    expect(alert.textContent).toContain("The study is already linked.");
    expect(alert.textContent).toContain("patient: changed meanwhile");
    expect(screen.queryByTestId("study-page")).toBeNull();
  });

  it("shows a conflict's existing study and rejects the new images after a confirmation", async () => {
    let rejected = false;
    const calls = openItem(CONFLICT, RIB, [
      [/\/api\/radiology\/studies\/6\/reject$/, () => ((rejected = true), { status: 204 })],
      ["/api/radiology/reconciliation/6", () => (rejected ? { status: 404, body: { status: 404, error: "not_found", detail: "gone" } } : { status: 200, body: CONFLICT })],
    ]);
    const existing = await screen.findByTestId("existing-study");
    expect(existing.textContent).toContain("김 민수 (MRN-1");
    expect(within(existing).getByRole("link", { name: "검사 열기" }).getAttribute("href")).toBe("/radiology/studies/4");
    expect(within(screen.getByTestId("candidate")).getByTestId("match-patient_id").textContent).toBe("MRN-2");
    expect(screen.getByText("미리보기 영상이 없습니다.")).toBeTruthy();
    fireEvent.change(comment(), { target: { value: "Wrong patient on the modality; images re-sent." } });
    fireEvent.click(screen.getByRole("button", { name: "영상 거부" }));
    expect(posts(calls)).toHaveLength(0); // the first click only asks to confirm
    expect(screen.getByText(/12장이 PACS에서 삭제됩니다/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "영상 삭제" }));
    expect(await screen.findByTestId("worklist")).toBeTruthy();
    const [post] = posts(calls);
    expect(post.url).toBe("/api/radiology/studies/6/reject");
    expect(JSON.parse(String(post.init.body))).toEqual({ comment: "Wrong patient on the modality; images re-sent." });
    expect(calls.slice(calls.indexOf(post)).filter((call) => call.url === "/api/radiology/reconciliation/6")).toHaveLength(0); // gone: not asked again
  });

  it("gives a conflict's new images to the existing study's patient", async () => {
    const calls = openItem(CONFLICT, RIB, [[/\/api\/radiology\/studies\/6\/link$/, () => ({ status: 200, body: { id: 4, status: "LINKED" } })]]);
    fireEvent.click(await screen.findByRole("button", { name: "새 영상도 이 환자의 것입니다" }));
    fireEvent.change(comment(), { target: { value: "PatientID was mistyped at the modality." } });
    fireEvent.click(screen.getByRole("button", { name: "환자에 연결" }));
    expect(await screen.findByTestId("study-page")).toBeTruthy();
    expect(JSON.parse(String(posts(calls)[0].init.body)).patient).toBe("p-1");
  });

  it("is read-only for an ADMIN, without the image (clinical staff only)", async () => {
    const calls = openItem({ ...CONFLICT, thumbnail_url: RECONCILE.thumbnail_url }, user("ADMIN"));
    expect(await screen.findByTestId("existing-study")).toBeTruthy();
    expect(screen.queryByRole("img")).toBeNull();
    expect(screen.getByText("읽기 전용: 환자 확인은 RIB 담당자가 처리합니다.")).toBeTruthy();
    for (const name of ["환자에 연결", "영상 거부", "새 영상도 이 환자의 것입니다"]) expect(screen.queryByRole("button", { name })).toBeNull();
    expect(screen.queryByRole("radio")).toBeNull();
    expect(screen.queryByRole("textbox", { name: "다른 환자 검색" })).toBeNull();
    expect(calls.every((call) => (call.init.method ?? "GET") === "GET")).toBe(true);
  });

  it("says when the conflict's existing study has no patient either", async () => {
    openItem({ ...CONFLICT, existing_study: { id: 4, patient: null } }, RIB);
    expect((await screen.findByTestId("existing-study")).textContent).toContain("연결된 환자 없음");
    expect(screen.queryByRole("button", { name: "새 영상도 이 환자의 것입니다" })).toBeNull();
  });

  it("shows a study resolved meanwhile as done, with nothing left to do", async () => {
    openItem({ ...RECONCILE, status: "LINKED" }, RIB);
    const done = await screen.findByTestId("reconcile-reason");
    expect(done.textContent).toContain("처리됨");
    expect(within(done).getByRole("link", { name: "검사 열기" }).getAttribute("href")).toBe("/radiology/studies/5");
    expect(screen.queryByTestId("resolve")).toBeNull();
    expect(screen.queryByRole("radio")).toBeNull();
  });
});

describe("reconciliation around the app", () => {
  const STUDY = {
    id: 5, study_instance_uid: "1.2.826.0.1.5", orthanc_id: "o", patient: null, status: "RECONCILE", reconciliation_reason: "PatientID MRN-9 is not in the EMR",
    dicom_patient_id: "MRN-9", dicom_patient_name: "KIM^MINSU", accession_number: "", order: null, modality: "MR", study_date: "2026-11-20", description: "Brain MRI",
    number_of_series: 0, number_of_instances: 0, source: "upload", created_at: "2026-12-01T10:00:00Z", updated_at: "2026-12-01T10:00:00Z", in_pacs: true, series: [],
  };

  it("says so, instead of opening the viewer, when the PACS no longer holds the study's images", async () => {
    routeFetch([
      ["/api/radiology/studies/5/measurements", []],
      ["/api/radiology/studies/5", { ...STUDY, status: "LINKED", patient: "p-1", in_pacs: false }],
      ["/api/ai/models", { models: [] }],
      ["/api/ai/jobs", page([])],
    ]);
    renderPage(
      <Routes>
        <Route path="/radiology/studies/:studyId" element={<StudyPage me={RIB} />} />
      </Routes>,
      "/radiology/studies/5",
    );
    expect(await screen.findByText(/PACS에 이 검사의 영상이 없습니다/)).toBeTruthy();
    expect(screen.getByText(/2026-11-20/)).toBeTruthy(); // the record's own fields
    expect(screen.queryByTestId("viewer-stub")).toBeNull();
  });

  it("sends a RIB from an unlinked study to its reconciliation, and holds AI back until it is linked", async () => {
    routeFetch([
      ["/api/radiology/studies/5/measurements", []],
      ["/api/radiology/studies/5", STUDY],
      ["/api/ai/models", { models: [{ name: "mri-lesion-demo", version: "1.0.0", task: "segmentation" }] }],
      ["/api/ai/jobs", page([])],
    ]);
    renderPage(
      <Routes>
        <Route path="/radiology/studies/:studyId" element={<StudyPage me={RIB} />} />
      </Routes>,
      "/radiology/studies/5",
    );
    expect((await screen.findByRole("link", { name: "환자 확인" })).getAttribute("href")).toBe("/radiology/reconciliation/5");
    expect((await screen.findByRole("button", { name: "분석 요청" })).hasAttribute("disabled")).toBe(true);
  });

  it("lets a RIB unlink a study from a wrong patient, with a comment", async () => {
    let status = "LINKED";
    const calls = routeFetch([
      [/\/api\/radiology\/studies\/5\/unlink$/, () => ((status = "RECONCILE"), { status: 200, body: { ...STUDY, status } })],
      ["/api/radiology/studies/5/measurements", []],
      ["/api/radiology/studies/5", () => ({ status: 200, body: { ...STUDY, status, patient: status === "LINKED" ? "p-1" : null } })],
      ["/api/ai/models", { models: [] }],
      ["/api/ai/jobs", page([])],
    ]);
    renderPage(
      <Routes>
        <Route path="/radiology/studies/:studyId" element={<StudyPage me={RIB} />} />
      </Routes>,
      "/radiology/studies/5",
    );
    fireEvent.click(await screen.findByRole("button", { name: "이 환자와 연결 해제" }));
    const confirm = screen.getByRole("button", { name: "연결 해제" });
    expect(confirm.hasAttribute("disabled")).toBe(true);
    fireEvent.change(screen.getByRole("textbox", { name: /사유 기록/ }), { target: { value: "Images are another patient's." } });
    fireEvent.click(confirm);
    expect(await screen.findByRole("link", { name: "환자 확인" })).toBeTruthy(); // refetched: back in RECONCILE
    const post = calls.find((call) => call.init.method === "POST")!;
    expect(post.url).toBe("/api/radiology/studies/5/unlink");
    expect(JSON.parse(String(post.init.body))).toEqual({ comment: "Images are another patient's." });
  });

  it("offers no unlink to a doctor", async () => {
    routeFetch([
      ["/api/radiology/studies/5/measurements", []],
      ["/api/radiology/studies/5", { ...STUDY, status: "LINKED", patient: "p-1" }],
      ["/api/ai/models", { models: [] }],
      ["/api/ai/jobs", page([])],
    ]);
    renderPage(
      <Routes>
        <Route path="/radiology/studies/:studyId" element={<StudyPage me={user("DOCTOR")} />} />
      </Routes>,
      "/radiology/studies/5",
    );
    expect(await screen.findByText("연결됨")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "이 환자와 연결 해제" })).toBeNull();
  });

  it("gives an ADMIN (who has no worklist) the list from the menu", async () => {
    routeFetch([["/api/radiology/reconciliation", page([CONFLICT])]]);
    renderPage(<SignedInRoutes me={user("ADMIN")} />, "/radiology/reconciliation");
    expect(await screen.findByTestId("reconcile-row")).toBeTruthy();
    const nav = screen.getByRole("navigation", { name: "주 메뉴" });
    expect(within(nav).getByRole("link", { name: "환자 확인 필요" }).getAttribute("href")).toBe("/radiology/reconciliation");
  });

  it("keeps a NURSE out of a reconciliation page, fetching nothing of it", async () => {
    const calls = routeFetch([]);
    renderPage(<SignedInRoutes me={user("NURSE")} />, "/radiology/reconciliation/5");
    expect(await screen.findByTestId("no-access")).toBeTruthy();
    expect(calls.filter((call) => call.url.includes("reconciliation"))).toHaveLength(0);
  });

  it("tells a RIB of a new conflict over the websocket, updates the tab's count and links to it", async () => {
    FakeWebSocket.instances = [];
    globalThis.WebSocket = FakeWebSocket as unknown as typeof WebSocket;
    let waiting = 0;
    routeFetch([
      ["/api/radiology/reconciliation", () => ({ status: 200, body: { ...page([]), count: waiting } })],
      ["/api/radiology/studies", page([])],
    ]);
    renderPage(
      <NotificationsProvider>
        <SignedInRoutes me={RIB} />
      </NotificationsProvider>,
      "/radiology",
    );
    await screen.findByText("영상 검사가 없습니다.");
    expect(screen.queryByTestId("reconcile-count")).toBeNull();
    waiting = 1;
    act(() => {
      FakeWebSocket.latest().open();
      FakeWebSocket.latest().receive({ kind: "radiology_conflict", study: 6, conflicting_with: 4 });
    });
    expect((await screen.findByTestId("reconcile-count")).textContent).toBe("1");
    fireEvent.click(screen.getByRole("button", { name: "알림" }));
    const list = await screen.findByTestId("notification-list");
    expect(list.textContent).toContain("다른 환자 검사의 UID");
    // (the popover is still fading in: hidden to the accessibility tree)
    expect(within(list).getByRole("link", { name: "환자 확인", hidden: true }).getAttribute("href")).toBe("/radiology/reconciliation/6");
  });
});
