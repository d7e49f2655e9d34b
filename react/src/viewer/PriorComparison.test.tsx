import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";

import type { Series, StudyDetail } from "../api/types";
import { FakeRenderingEngine, STACK_NEW_IMAGE, resetCornerstone } from "../test/cornerstone";
import type { FakeViewport } from "../test/cornerstone";
import { page, routeFetch } from "../test/fakes";
import { renderPage } from "../test/render";
import { seriesMetadata } from "./dicomweb";
import type { DicomJson } from "./dicomweb";
import PriorComparison, { commonSequences, seriesOfType } from "./PriorComparison";
import { startingOffset } from "./registration";

vi.mock("@cornerstonejs/core", async () => (await import("../test/cornerstone")).core);
vi.mock("@cornerstonejs/tools", async () => (await import("../test/cornerstone")).tools);
vi.mock("@cornerstonejs/adapters", async () => (await import("../test/cornerstone")).adapters);
vi.mock("./cornerstone", async () => (await import("../test/cornerstone")).viewerCornerstone);
vi.mock("./dicomweb", async (importOriginal) => ({ ...(await importOriginal<typeof import("./dicomweb")>()), seriesMetadata: vi.fn() }));

const slice = (sop: string, z: number): DicomJson => ({
  "00080018": { vr: "UI", Value: [sop] },
  "00200032": { vr: "DS", Value: [0, 0, z] },
  "00200037": { vr: "DS", Value: [1, 0, 0, 0, 1, 0] },
});
const stack = (prefix: string, zs: number[]) => zs.map((z, index) => slice(`${prefix}.${index}`, z));
const series = (uid: string, sequence: string, count: number) => ({ series_instance_uid: uid, modality: "MR", number_of_instances: count, description: `${sequence} AX`, series_number: 1 }) as Series;
const study = (id: number, date: string, list: Series[]) =>
  ({ id, study_instance_uid: `1.${id}`, study_date: date, series: [...list, { ...series(`1.${id}.9`, "", 1), modality: "SEG" }], in_pacs: true }) as unknown as StudyDetail;

// current: 5 slices 10..18 mm; prior: 9 slices 14..30 mm (overlapping: registered absolutely); far: 100..108 mm
const SLICES: Record<string, DicomJson[]> = {
  "c.T1": stack("c.T1", [10, 12, 14, 16, 18]),
  "c.FLAIR": stack("c.FLAIR", [10, 12, 14, 16, 18]),
  "p.T1": stack("p.T1", [14, 16, 18, 20, 22, 24, 26, 28, 30]),
  "p.FLAIR": stack("p.FLAIR", [14, 16, 18, 20, 22, 24, 26, 28, 30]),
  "f.T1": stack("f.T1", [100, 102, 104, 106, 108]),
};
const CURRENT = study(1, "2026-11-24", [series("c.T1", "T1", 5), series("c.FLAIR", "FLAIR", 5)]);
const PRIOR = study(2, "2026-09-01", [series("p.T1", "T1", 9), series("p.FLAIR", "FLAIR", 9), series("p.T2", "T2", 9)]);
const FAR = study(3, "2026-06-02", [series("f.T1", "T1", 5)]);

const aiJob = (id: string, studyId: number) => ({
  id, task: "segmentation", status: "COMPLETED", study: studyId, created_at: "2026-11-24T10:00:00Z", finished_at: "2026-11-24T10:00:00Z",
  result: { status: "FINAL", superseded_by: null, artifacts: [{ name: "seg", content_type: "application/dicom", size: 1, url: `/api/ai/jobs/${id}/artifacts/seg` }] },
});

const panes = () => screen.getAllByTestId("compare-pane");
const index = (slot: number) => within(panes()[slot]).getByTestId("viewport-pane").dataset.index;
const paneViewport = (slot: number): FakeViewport => FakeRenderingEngine.viewports().find((viewport) => panes()[slot].contains(viewport.element))!;
/** The reader turns the wheel over a pane: it leads, and Cornerstone shows slice `to`. */
const scrollReader = (slot: number, to: number) =>
  act(() => {
    fireEvent.wheel(within(panes()[slot]).getByTestId("viewport-pane"));
    paneViewport(slot).element.dispatchEvent(new CustomEvent(STACK_NEW_IMAGE, { detail: { imageIdIndex: to } }));
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

describe("where registration starts", () => {
  const geometry = (positions: number[]) => ({ normal: [0, 0, 1] as [number, number, number], positions });
  it("is the same absolute position for overlapping stacks or one frame of reference, else the middles aligned", () => {
    const current = geometry([10, 12, 14, 16, 18]);
    expect(startingOffset(current, geometry([14, 16, 18, 20]), false)).toBe(0);
    expect(startingOffset(current, geometry([100, 102, 104, 106, 108]), false)).toBe(-90);
    expect(startingOffset(current, geometry([100, 102]), true)).toBe(0);
  });

  it("compares by the sequence types both studies have", () => {
    expect(commonSequences(CURRENT.series, PRIOR.series)).toEqual(["T1", "FLAIR"]);
    expect(seriesOfType(PRIOR.series, "T2")?.series_instance_uid).toBe("p.T2");
    expect(seriesOfType(CURRENT.series, null)?.series_instance_uid).toBe("c.T1"); // any image series, not the SEG
  });
});

describe("prior comparison", () => {
  it("shows both studies' T1 with their dates and AI overlays, the prior on the current slice's position", async () => {
    renderPage(<PriorComparison current={CURRENT} prior={PRIOR} />);
    await waitFor(() => expect(screen.getByTestId("offset").textContent).toBe("오프셋 0.0 mm"));
    await waitFor(() => expect([index(0), index(1)]).toEqual(["2", "0"])); // 14 mm in both
    expect(panes()[0].textContent).toContain("현재 2026-11-24 · T1 AX");
    expect(panes()[1].textContent).toContain("이전 2026-09-01 · T1 AX");
    for (const pane of panes()) expect(await within(pane).findByText("오버레이 표시 중")).toBeTruthy();
    expect(screen.getAllByRole("radio").map((radio) => radio.getAttribute("value"))).toEqual(["T1", "FLAIR"]);

    scrollReader(0, 4); // the current study to 18 mm: the prior follows
    await waitFor(() => expect(index(1)).toBe("2"));
    scrollReader(1, 3); // the prior to 20 mm: the current goes to its nearest, 18 mm (where it is)
    await waitFor(() => expect(index(1)).toBe("3"));
    expect(index(0)).toBe("4");
  });

  it("aligns distant stacks by their middles; scrolled apart, link here keeps the slices on screen together", async () => {
    renderPage(<PriorComparison current={CURRENT} prior={FAR} />);
    await waitFor(() => expect(screen.getByTestId("offset").textContent).toBe("오프셋 -90.0 mm"));
    expect(within(panes()[1]).getByRole("combobox", { name: "분할 오버레이" }).getAttribute("placeholder")).toBe("이 검사에는 분할 결과가 없습니다");
    scrollReader(0, 0); // 10 mm -> 100 mm
    await waitFor(() => expect(index(1)).toBe("0"));

    fireEvent.click(screen.getByRole("switch", { name: "스크롤 동기화" }));
    scrollReader(1, 2); // the prior alone, to 104 mm
    expect(index(0)).toBe("0");
    fireEvent.click(screen.getByRole("button", { name: "여기서 연결" }));
    await waitFor(() => expect(screen.getByTestId("offset").textContent).toBe("오프셋 -94.0 mm"));
    expect((screen.getByRole("switch", { name: "스크롤 동기화" }) as HTMLInputElement).checked).toBe(true);
    scrollReader(0, 1); // together again, with the new offset: 12 mm -> 106 mm
    await waitFor(() => expect(index(1)).toBe("3"));
  });

  it("shows the chosen sequence type in both panes", async () => {
    renderPage(<PriorComparison current={CURRENT} prior={PRIOR} />);
    await waitFor(() => expect(screen.getByTestId("offset")).toBeTruthy());
    fireEvent.click(screen.getByRole("radio", { name: "FLAIR" }));
    await waitFor(() => expect(paneViewport(0).imageIds[0]).toContain("/series/c.FLAIR/"));
    await waitFor(() => expect(paneViewport(1).imageIds[0]).toContain("/series/p.FLAIR/"));
  });
});
