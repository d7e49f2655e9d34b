import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { Route, Routes } from "react-router";

import { geneLabel, kmCurves, kmCurvesInYears, labelVolumes, riskScore, topGenes } from "../../api/ai";
import { NotificationsProvider } from "../../notifications/NotificationsProvider";
import { FakeWebSocket, routeFetch } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { AiJobPage } from "./AiJobPage";
import { RequestAnalysis } from "./RequestAnalysis";

vi.mock("../../viewer/ViewerLoader", () => ({
  LazyStudyViewer: ({ overlays, initialOverlay, studyUid }: { overlays: { key: string; label: string }[]; initialOverlay?: string; studyUid: string }) => (
    <div data-testid="viewer-stub">
      {studyUid} {initialOverlay} {overlays.map((overlay) => overlay.label).join(",")}
    </div>
  ),
}));

const RIB = { id: 2, username: "rib", first_name: "", last_name: "", roles: ["RIB", "RADIOLOGIST"], is_service_account: false };
const RADIOGRAPHER = { ...RIB, id: 3, username: "radiographer", roles: ["RIB"] };
const DOCTOR = { ...RIB, id: 1, username: "doc", roles: ["DOCTOR"] };

// as GET /api/ai/jobs/{id} answers (backend/openapi.yaml Job, Result; metrics as ai-server/pipelines/omics_risk.py)
const OMICS_JOB = {
  id: "j-1", status: "COMPLETED", task: "omics-risk", model_name: "omics-cox-gse7390", model_version: "1.0.0", patient: "p-1", study: null,
  expression_upload: "u-1", attempts: 1, deadline: "2026-11-26T09:30:00Z", requested_by: "doctor", failure_reason: "",
  progress: { stage: null, fraction: null }, device: "cpu", timings: {}, created_at: "2026-11-26T09:00:00Z", started_at: null, finished_at: null,
  result: {
    // the model card's disclaimer as the API answers it to a Korean user
    id: 41, status: "PRELIMINARY", summary: "High risk group", disclaimer: "공개 유방암 코호트(GSE7390)로 학습한 위험도 점수 시연용 모델입니다. 임상에 사용할 수 없습니다.",
    metrics: { risk_score: 1.234, percentile: 91.5 },
    raw_metrics: {
      risk_score: 1.234, risk_group: "high", percentile: 91.5,
      top_genes: [
        { gene: "X205034_at", probe: "205034_at", symbol: "CCNE2", contribution: 0.7, value: 9.2 },
        { gene: "X209524_at", probe: "209524_at", symbol: null, contribution: -0.4, value: 7.1 },
      ],
      km: { time_unit: "days", groups: [{ label: "low", time: [0, 730.5, 1826.25], survival: [1, 0.9, 0.8] }, { label: "high", time: [0, 365.25, 1095.75], survival: [1, 0.6, 0.4] }] },
    },
    artifacts: [], orthanc: { seg_instance_id: null, seg_series_instance_uid: null }, reviewed_by: "", review_comment: "", reviewed_at: null,
    created_at: "2026-11-26T09:01:00Z",
  },
};

function renderJob(me = RIB) {
  return renderPage(
    <NotificationsProvider>
      <Routes>
        <Route path="/ai/jobs/:jobId" element={<AiJobPage me={me} />} />
      </Routes>
    </NotificationsProvider>,
    "/ai/jobs/j-1",
  );
}

beforeEach(() => {
  FakeWebSocket.instances = [];
  globalThis.WebSocket = FakeWebSocket as unknown as typeof WebSocket;
});

describe("reading result metrics", () => {
  it("accepts volumes as a map or as rows", () => {
    expect(labelVolumes({ volumes_ml: { lesion: 12.5, edema: "3" } })).toEqual([{ label: "lesion", ml: 12.5 }, { label: "edema", ml: 3 }]);
    expect(labelVolumes({ labels: [{ name: "lesion", volume_ml: 2 }] })).toEqual([{ label: "lesion", ml: 2 }]);
    expect(labelVolumes({})).toEqual([]);
  });
  it("reads genes, risk and Kaplan-Meier curves", () => {
    expect(topGenes({ top_genes: [["TP53", 0.2]] })).toEqual([{ gene: "TP53", weight: 0.2 }]);
    expect(riskScore({ risk_score: { score: 0.5, group: "low" } })).toEqual({ score: 0.5, group: "low", percentile: undefined });
    expect(riskScore({})).toBeNull();
    expect(kmCurves({ km: { time: [0, 1], survival: [1, 0.5] } })).toEqual([{ name: "", time: [0, 1], survival: [1, 0.5] }]);
    expect(kmCurves(OMICS_JOB.result.raw_metrics).map((curve) => curve.name)).toEqual(["low", "high"]);
    expect(topGenes(OMICS_JOB.result.raw_metrics)).toEqual([
      { gene: "X205034_at", weight: 0.7, symbol: "CCNE2", probe: "205034_at" },
      { gene: "X209524_at", weight: -0.4, probe: "209524_at" },
    ]);
    expect(riskScore(OMICS_JOB.result.raw_metrics)).toEqual({ score: 1.234, group: "high", percentile: 91.5 });
  });
  it("names genes by symbol with the probe id beside it, or by the probe id alone", () => {
    expect(topGenes(OMICS_JOB.result.raw_metrics).map(geneLabel)).toEqual(["CCNE2 (205034_at)", "209524_at"]);
    expect(geneLabel({ gene: "TP53", weight: 1 })).toBe("TP53");
  });
  it("gives Kaplan-Meier time in years when the result states its unit", () => {
    const { curves, unit } = kmCurvesInYears(OMICS_JOB.result.raw_metrics);
    expect(unit).toBe("years");
    expect(curves[0].time).toEqual([0, 2, 5]);
    expect(kmCurvesInYears({ km: { time_unit: "months", time: [0, 18], survival: [1, 0.5] } }).curves[0].time).toEqual([0, 1.5]);
    expect(kmCurvesInYears({ km: { time: [0, 18], survival: [1, 0.5] } })).toEqual({ curves: [{ name: "", time: [0, 18], survival: [1, 0.5] }], unit: null });
  });
});

describe("AI job page", () => {
  it("shows live stage and percentage pushed over the websocket, then the result without reloading", async () => {
    let finished = false;
    routeFetch([
      ["/api/ai/jobs/j-1", () => ({ status: 200, body: finished ? OMICS_JOB : { ...OMICS_JOB, status: "RUNNING", result: null } })],
    ]);
    renderJob();
    expect(await screen.findByText("실행 중")).toBeTruthy();
    const socket = FakeWebSocket.latest();
    act(() => {
      socket.open();
      socket.receive({ type: "ai.job.progress", job_id: "j-1", stage: "inference", fraction: 0.42 });
    });
    expect(screen.getByText(/모델 실행 중 · 42%/)).toBeTruthy();
    finished = true;
    act(() => socket.receive({ type: "ai.job.finished", job_id: "j-1", status: "COMPLETED" }));
    expect(await screen.findByTestId("risk-score")).toBeTruthy();
    expect(screen.getByTestId("risk-score").textContent).toBe("+1.23");
    // the model card's words first, then ours; neither claims how an omics model was trained unless its card does
    expect(screen.getByTestId("ai-model-disclaimer").textContent).toBe(OMICS_JOB.result.disclaimer);
    expect(screen.getByTestId("ai-disclaimer").textContent).toContain("의료진의 검토가 필요합니다");
    expect(screen.getByTestId("ai-disclaimer").textContent).not.toContain("합성");
    const km = screen.getByTestId("km-chart");
    expect(km.querySelectorAll("path")).toHaveLength(2);
    expect(km.textContent).toContain("시간 (년)");
    expect(km.textContent).toContain("생존 확률 (%)");
    expect(km.textContent).toContain("50%");
    expect(screen.getByText("CCNE2 (205034_at)")).toBeTruthy();
    expect(screen.getByText("209524_at")).toBeTruthy();
  });

  it("lets radiology staff approve or reject with a comment", async () => {
    let reviewed = false;
    const calls = routeFetch([
      ["/api/ai/results/41/review", () => ((reviewed = true), { status: 200, body: { ...OMICS_JOB.result, status: "FINAL" } })],
      ["/api/ai/jobs/j-1", () => ({ status: 200, body: reviewed ? { ...OMICS_JOB, result: { ...OMICS_JOB.result, status: "FINAL", reviewed_by: "rib", reviewed_at: "2026-11-26T10:00:00Z", review_comment: "agree" } } : OMICS_JOB })],
    ]);
    renderJob();
    const reject = await screen.findByRole("button", { name: "반려" });
    expect((reject as HTMLButtonElement).disabled).toBe(true); // a review needs a comment
    expect((screen.getByRole("button", { name: "승인" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(screen.getByLabelText("의견"), { target: { value: "agree" } });
    fireEvent.click(screen.getByRole("button", { name: "승인" }));
    expect(await screen.findByText(/rib님이 검토/)).toBeTruthy();
    expect(screen.getByText("최종")).toBeTruthy();
    const review = calls.find((call) => call.url === "/api/ai/results/41/review")!;
    expect(JSON.parse(String(review.init.body))).toEqual({ decision: "approve", comment: "agree" });
  });

  it("shows the first reader of a result that needs two and keeps the first reader from giving the second", async () => {
    const firstRead = { ...OMICS_JOB.result, second_reader_required: true, first_reader: "rib", first_read_comment: "agree", first_read_at: "2026-11-26T10:00:00Z", awaiting_second_read: true };
    routeFetch([["/api/ai/jobs/j-1", { ...OMICS_JOB, result: firstRead }]]);
    renderJob();
    expect(await screen.findByTestId("awaiting-second-read")).toBeTruthy();
    expect(screen.getByText("2차 판독 대기")).toBeTruthy();
    expect(screen.getByTestId("first-read").textContent).toMatch(/^rib이\(가\) .+에 1차 판독\(승인\) — agree$/);
    expect(screen.getByText("1차 판독을 하셨습니다. 2차 판독은 다른 영상의학과 전문의가 해야 합니다.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "승인" })).toBeNull();
  });

  it("offers the second read to another radiologist", async () => {
    const firstRead = { ...OMICS_JOB.result, second_reader_required: true, first_reader: "rib", first_read_comment: "agree", first_read_at: "2026-11-26T10:00:00Z", awaiting_second_read: true };
    let reviewed = false;
    const calls = routeFetch([
      ["/api/ai/results/41/review", () => ((reviewed = true), { status: 200, body: { ...firstRead, status: "FINAL", awaiting_second_read: false } })],
      ["/api/ai/jobs/j-1", () => ({ status: 200, body: { ...OMICS_JOB, result: reviewed ? { ...firstRead, status: "FINAL", awaiting_second_read: false, reviewed_by: "second", reviewed_at: "2026-11-26T11:00:00Z", review_comment: "agree too" } : firstRead } })],
    ]);
    renderJob({ ...RIB, id: 9, username: "second" });
    expect(await screen.findByTestId("first-read")).toBeTruthy();
    expect(screen.queryByTestId("gave-first-read")).toBeNull();
    fireEvent.change(screen.getByLabelText("의견"), { target: { value: "agree too" } });
    fireEvent.click(screen.getByRole("button", { name: "승인" }));
    expect(await screen.findByText(/second님이 검토/)).toBeTruthy();
    expect(screen.queryByTestId("awaiting-second-read")).toBeNull();
    expect(screen.getByTestId("first-read")).toBeTruthy();
    expect(calls.some((call) => call.url === "/api/ai/results/41/review")).toBe(true);
  });

  it("does not offer sign-off to a doctor", async () => {
    routeFetch([["/api/ai/jobs/j-1", OMICS_JOB]]);
    renderJob(DOCTOR);
    expect(await screen.findByText("영상의학과 전문의의 판독 승인을 기다리는 중입니다.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "승인" })).toBeNull();
  });

  it("does not offer sign-off to a radiographer", async () => {
    routeFetch([["/api/ai/jobs/j-1", OMICS_JOB]]);
    renderJob(RADIOGRAPHER);
    expect(await screen.findByText("영상의학과 전문의의 판독 승인을 기다리는 중입니다.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "승인" })).toBeNull();
  });

  it("lets a radiologist amend a final result with a reason and shows the earlier version", async () => {
    const signed = { ...OMICS_JOB.result, status: "FINAL", reviewed_by: "rib", reviewed_at: "2026-11-26T10:00:00Z", review_comment: "agree", version: 1, report_status: "final", revisions: [] };
    let amended = false;
    const calls = routeFetch([
      ["/api/ai/results/41/amend", () => ((amended = true), { status: 200, body: signed })],
      [
        "/api/ai/jobs/j-1",
        () => ({
          status: 200,
          body: {
            ...OMICS_JOB,
            result: amended
              ? { ...signed, summary: "Intermediate risk", version: 2, report_status: "amended", amended_by: "rib", amended_at: "2026-11-27T10:00:00Z", amendment_reason: "wrong cohort",
                  revisions: [{ version: 1, status: "FINAL", summary: "High risk group", review_comment: "agree", reviewed_by: "rib", reviewed_at: "2026-11-26T10:00:00Z", amended_by: null, amended_at: null, amendment_reason: "", superseded_at: "2026-11-27T10:00:00Z" }] }
              : signed,
          },
        }),
      ],
    ]);
    renderJob();
    fireEvent.click(await screen.findByRole("button", { name: "수정" }));
    const save = screen.getByRole("button", { name: "수정 저장" }) as HTMLButtonElement;
    expect(save.disabled).toBe(true); // a reason and a change are needed
    fireEvent.change(screen.getByLabelText(/수정 사유/), { target: { value: "wrong cohort" } });
    fireEvent.change(screen.getByLabelText("요약"), { target: { value: "Intermediate risk" } });
    fireEvent.click(save);
    expect(await screen.findByTestId("amended")).toBeTruthy();
    expect(screen.getByTestId("result-history").textContent).toContain("High risk group");
    const amend = calls.find((call) => call.url === "/api/ai/results/41/amend")!;
    expect(JSON.parse(String(amend.init.body))).toEqual({ reason: "wrong cohort", summary: "Intermediate risk", review_comment: "agree" });
  });

  it("shows why a job failed", async () => {
    routeFetch([["/api/ai/jobs/j-1", { ...OMICS_JOB, status: "FAILED", failure_reason: "too many missing genes", result: null }]]);
    renderJob();
    expect(await screen.findByText("too many missing genes")).toBeTruthy();
  });
});

describe("segmentation result", () => {
  it("shows volumes per label in mL, the disclaimer and the viewer with the AI overlay", async () => {
    const job = {
      ...OMICS_JOB, task: "segmentation", model_name: "mri-lesion-demo", study: 7,
      result: {
        ...OMICS_JOB.result,
        metrics: { "volume_ml.lesion": { value: 14.25, unit: "mL" } },
        raw_metrics: { volume_ml: { lesion: 14.25, edema: 3.5 }, labels: { lesion: { label: 1, voxels: 14250, volume_ml: 14.25 } } },
        artifacts: [{ name: "seg", content_type: "application/dicom", size: 4096, url: "/api/ai/jobs/j-1/artifacts/seg" }],
      },
    };
    routeFetch([
      ["/api/ai/jobs/j-1", job],
      ["/api/radiology/studies/7", { id: 7, study_instance_uid: "1.2.7", series: [] }],
    ]);
    renderJob(DOCTOR);
    expect(await screen.findByText("14.25")).toBeTruthy();
    expect(screen.getByText("3.50")).toBeTruthy();
    expect(screen.getByTestId("ai-disclaimer")).toBeTruthy();
    expect((await screen.findByTestId("viewer-stub")).textContent).toContain("1.2.7 ai AI 분할 (이 결과)");
    expect(screen.getByRole("link", { name: /seg/ }).getAttribute("href")).toBe("/api/ai/jobs/j-1/artifacts/seg");
  });
});

describe("requesting an analysis", () => {
  it("offers the task's models and posts the job", async () => {
    const calls = routeFetch([
      ["/api/ai/models", { models: [{ name: "mri-lesion-demo", version: "1.0.0", task: "segmentation" }, { name: "omics-cox-gse7390", version: "1.0.0", task: "omics-risk" }] }],
      ["/api/ai/jobs", () => ({ status: 202, body: { ...OMICS_JOB, id: "new-job", status: "QUEUED", result: null } })],
    ]);
    renderPage(
      <Routes>
        <Route path="/" element={<RequestAnalysis task="segmentation" input={{ study: 7 }} />} />
        <Route path="/ai/jobs/:jobId" element={<div>job page</div>} />
      </Routes>,
    );
    fireEvent.click(await screen.findByRole("button", { name: "분석 요청" }));
    expect(await screen.findByText("job page")).toBeTruthy();
    const post = calls.find((call) => call.url === "/api/ai/jobs" && call.init.method === "POST")!;
    expect(JSON.parse(String(post.init.body))).toEqual({ study: 7, model: "mri-lesion-demo", model_version: "1.0.0" });
  });

  it("says so when no model is available", async () => {
    routeFetch([["/api/ai/models", { models: [] }]]);
    renderPage(<RequestAnalysis task="omics-risk" input={{ expression_upload: "u" }} />);
    await waitFor(() => expect(screen.getByText("이 분석에 사용할 수 있는 모델이 없습니다.")).toBeTruthy());
  });
});
