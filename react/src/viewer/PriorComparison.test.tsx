import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";

import type { Series, StudyDetail } from "../api/types";
import { FakeRenderingEngine, STACK_NEW_IMAGE, resetCornerstone } from "../test/cornerstone";
import type { FakeViewport } from "../test/cornerstone";
import { page, routeFetch } from "../test/fakes";
import { renderPage } from "../test/render";
import { seriesMetadata } from "./dicomweb";
import type { DicomJson } from "./dicomweb";
import { initialOffset, nearestSlice, stackGeometry } from "./priorRegistration";
import PriorComparison, { commonSequences } from "./PriorComparison";

vi.mock("@cornerstonejs/core", async () => (await import("../test/cornerstone")).core);
vi.mock("@cornerstonejs/tools", async () => (await import("../test/cornerstone")).tools);
vi.mock("@cornerstonejs/adapters", async () => (await import("../test/cornerstone")).adapters);
vi.mock("./cornerstone", async () => (await import("../test/cornerstone")).viewerCornerstone);
vi.mock("./dicomweb", async (importOriginal) => ({ ...(await importOriginal<typeof import("./dicomweb")>()), seriesMetadata: vi.fn() }));

const slice = (sop: string, z: number, frameOfReference = "F"): DicomJson => ({
  "00080018": { vr: "UI", Value: [sop] },
  "00200032": { vr: "DS", Value: [0, 0, z] },
  "00200037": { vr: "DS", Value: [1, 0, 0, 0, 1, 0] },
  "00200052": { vr: "UI", Value: [frameOfReference] },
});
const stack = (prefix: string, zs: number[], frameOfReference?: string) => zs.map((z, index) => slice(`${prefix}.${index}`, z, frameOfReference));
const series = (uid: string, sequence_type: string, count: number) => ({ series_instance_uid: uid, modality: "MR", sequence_type, number_of_instances: count, description: `${sequence_type} AX`, series_number: 1 }) as Series;
const study = (id: number, date: string, list: Series[]) =>
  ({ id, study_instance_uid: `1.${id}`, study_date: date, series: [...list, { ...series(`1.${id}.9`, "", 1), modality: "SEG" }], in_pacs: true }) as unknown as StudyDetail;

// current: 5 slices 10..18 mm; prior: 9 slices 14..30 mm (overlapping: registered absolutely); far: 100..108 mm
const SLICES: Record<string, DicomJson[]> = {
  "c.T1": stack("c.T1", [10, 12, 14, 16, 18]),
  "c.FLAIR": stack("c.FLAIR", [10, 12, 14, 16, 18]),
  "p.T1": stack("p.T1", [14, 16, 18, 20, 22, 24, 26, 28, 30], "G"),
  "p.FLAIR": stack("p.FLAIR", [14, 16, 18, 20, 22, 24, 26, 28, 30], "G"),
  "f.T1": stack("f.T1", [100, 102, 104, 106, 108], "H"),
};
const CURRENT = study(1, "2026-11-24", [series("c.T1", "T1", 5), series("c.FLAIR", "FLAIR", 5)]);
const PRIOR = study(2, "2026-09-01", [series("p.T1", "T1", 9), series("p.FLAIR", "FLAIR", 9), series("p.T2", "T2", 9)]);
const FAR = study(3, "2026-06-02", [series("f.T1", "T1", 5)]);

const aiJob = (id: string, studyId: number) => ({
  id, task: "segmentation", status: "COMPLETED", study: studyId, created_at: "2026-11-24T10:00:00Z", finished_at: "2026-11-24T10:00:00Z",
  result: { status: "FINAL", superseded_by: null, artifacts: [{ name: "seg", content_type: "application/dicom", size: 1, url: `/api/ai/jobs/${id}/artifacts/seg` }] },
});

const panes = () => screen.getAllByTestId("compare-pane");
const paneViewport = (index: number): FakeViewport =>
  FakeRenderingEngine.all.flatMap((engine) => [...engine.viewports.values()]).find((viewport) => panes()[index].contains(viewport.element))!;
const scrollReader = (index: number, to: number) =>
  act(() => {
    paneViewport(index).element.dispatchEvent(new CustomEvent(STACK_NEW_IMAGE, { detail: { imageIdIndex: to } }));
  });

beforeEach(() => {
  resetCornerstone();
  vi.mocked(seriesMetadata).mockReset().mockImplementation(async (_study, seriesUid) => SLICES[seriesUid]);
  routeFetch([
    [/\/api\/ai\/jobs\?study=1$/, page([aiJob("j1", 1)])],
    [/\/api\/ai\/jobs\?study=2$/, page([aiJob("j2", 2)])],
    [/\/api\/ai\/jobs\?study=3$/, page([])],
    [/\/artifacts\/seg$/, { seg: 1 }],
  ]);
});

describe("registration by slice position", () => {
  it("finds each slice's position, the nearest slice, and where registration starts", () => {
    const current = stackGeometry(SLICES["c.T1"], 5);
    expect(current).toEqual({ positions: [10, 12, 14, 16, 18], frameOfReference: "F" });
    expect(stackGeometry(SLICES["c.T1"].slice(0, 1), 3).positions).toEqual([0, 1, 2]); // one multi-frame instance
    expect(nearestSlice(current.positions, 15.2)).toBe(3);
    expect(nearestSlice([], 1)).toBe(-1);
    expect(initialOffset(current, stackGeometry(SLICES["p.T1"], 9))).toBe(0); // overlapping
    expect(initialOffset(current, stackGeometry(SLICES["f.T1"], 5))).toBe(90); // apart: middles aligned
    expect(initialOffset(current, { positions: [200, 202], frameOfReference: "F" })).toBe(0); // one frame of reference
  });

  it("compares by the sequence types both studies have", () => {
    expect(commonSequences(CURRENT.series, PRIOR.series)).toEqual(["T1", "FLAIR"]);
  });
});

describe("prior comparison", () => {
  it("shows both studies' T1 with their dates and AI overlays, the prior on the current slice's position", async () => {
    renderPage(<PriorComparison current={CURRENT} prior={PRIOR} />);
    await waitFor(() => expect(panes().map((pane) => pane.dataset.position)).toEqual(["14.0", "14.0"]));
    expect(panes().map((pane) => within(pane).getByTestId("pane-label").textContent)).toEqual(["현재 2026-11-24", "이전 2026-09-01"]);
    expect(paneViewport(1).setImageIdIndex).toHaveBeenLastCalledWith(0);
    expect(screen.getByTestId("offset").textContent).toBe("오프셋 0.0 mm");
    for (const pane of panes()) expect(await within(pane).findByText("오버레이 표시 중")).toBeTruthy();
    expect(screen.getAllByRole("radio").map((radio) => radio.getAttribute("value"))).toEqual(["T1", "FLAIR"]);

    scrollReader(0, 4); // the reader scrolls the current study: the prior follows to 18 mm
    await waitFor(() => expect(panes().map((pane) => pane.dataset.position)).toEqual(["18.0", "18.0"]));
    expect(panes()[1].dataset.slice).toBe("3");
    scrollReader(1, 3); // and the prior: the current follows, to its nearest slice
    await waitFor(() => expect(panes()[0].dataset.position).toBe("18.0"));
    expect(panes()[1].dataset.position).toBe("20.0");
  });

  it("aligns distant stacks by their middles; scrolled apart, link here keeps the slices on screen together", async () => {
    renderPage(<PriorComparison current={CURRENT} prior={FAR} />);
    await waitFor(() => expect(screen.getByTestId("offset").textContent).toBe("오프셋 90.0 mm"));
    expect(within(panes()[1]).getByRole("combobox", { name: "분할 오버레이" }).getAttribute("placeholder")).toBe("이 검사에는 분할 결과가 없습니다");
    scrollReader(0, 0); // 10 mm -> 100 mm
    await waitFor(() => expect(panes()[1].dataset.position).toBe("100.0"));

    fireEvent.click(screen.getByRole("switch", { name: "함께 스크롤" }));
    scrollReader(1, 2); // the prior alone, to 104 mm
    await waitFor(() => expect(panes()[1].dataset.position).toBe("104.0"));
    expect(panes()[0].dataset.position).toBe("10.0");
    fireEvent.click(screen.getByRole("button", { name: "여기서 연결" }));
    expect(screen.getByTestId("offset").textContent).toBe("오프셋 94.0 mm");
    scrollReader(0, 1); // together again, with the new offset: 12 mm -> 106 mm
    await waitFor(() => expect(panes()[1].dataset.position).toBe("106.0"));
  });

  it("shows the chosen sequence type in both panes", async () => {
    renderPage(<PriorComparison current={CURRENT} prior={PRIOR} />);
    await waitFor(() => expect(panes()[1].dataset.position).toBe("14.0"));
    fireEvent.click(screen.getByRole("radio", { name: "FLAIR" }));
    await waitFor(() => expect(paneViewport(0).imageIds[0]).toContain("/series/c.FLAIR/"));
    await waitFor(() => expect(paneViewport(1).imageIds[0]).toContain("/series/p.FLAIR/"));
  });
});
