import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";

import type { Series } from "../api/types";
import {
  FakeRenderingEngine,
  MouseBindings,
  PIXEL_MM,
  STACK_NEW_IMAGE,
  annotationState,
  createFromDICOMSegBuffer,
  resetCornerstone,
  segmentationCalls,
  toolGroups,
} from "../test/cornerstone";
import { routeFetch } from "../test/fakes";
import { segReferencing } from "../test/dicom";
import { renderPage } from "../test/render";
import { qidoInstances, qidoSeries, retrieveInstance, seriesMetadata } from "./dicomweb";
import type { DicomJson } from "./dicomweb";
import StudyViewer from "./StudyViewer";
import type { StudyViewerProps } from "./StudyViewer";

vi.mock("@cornerstonejs/core", async () => (await import("../test/cornerstone")).core);
vi.mock("@cornerstonejs/tools", async () => (await import("../test/cornerstone")).tools);
vi.mock("@cornerstonejs/adapters", async () => (await import("../test/cornerstone")).adapters);
vi.mock("./cornerstone", async () => (await import("../test/cornerstone")).viewerCornerstone);
vi.mock("./dicomweb", async (importOriginal) => ({
  ...(await importOriginal<typeof import("./dicomweb")>()),
  qidoSeries: vi.fn(),
  qidoInstances: vi.fn(),
  seriesMetadata: vi.fn(),
  retrieveInstance: vi.fn(),
}));

const STUDY_UID = "1.2";
// not sequence types the brain layout knows: the study opens with one pane
const T1 = { uid: "1.2.1", modality: "MR", description: "Head", number: 1, instances: 3 };
const T2 = { uid: "1.2.2", modality: "MR", description: "Neck", number: 2, instances: 2 };
const SEG = { uid: "1.2.9", modality: "SEG", description: "Lesions", number: 9, instances: 1 };
const API_SERIES = [{ id: 11, series_instance_uid: T1.uid }] as Series[];

const slice = (sop: string, z: number): DicomJson => ({
  "00080018": { vr: "UI", Value: [sop] },
  "00200013": { vr: "IS", Value: [z] },
  "00200032": { vr: "DS", Value: [0, 0, z] },
  "00200037": { vr: "DS", Value: [1, 0, 0, 0, 1, 0] },
});
const SLICES: Record<string, DicomJson[]> = {
  [T1.uid]: [slice("1.2.1.1", 1), slice("1.2.1.2", 2), slice("1.2.1.3", 3)],
  [T2.uid]: [slice("1.2.2.1", 1), slice("1.2.2.2", 2)],
};
const frames = (seriesUid: string) =>
  SLICES[seriesUid].map((item) => `wadors:${window.location.origin}/api/radiology/dicom-web/studies/${STUDY_UID}/series/${seriesUid}/instances/${item["00080018"]!.Value![0]}/frames/1`);

function open(props: Partial<StudyViewerProps> = {}) {
  return renderPage(<StudyViewer studyId={5} studyUid={STUDY_UID} series={API_SERIES} {...props} />);
}

const viewport = () => FakeRenderingEngine.viewport();
const group = () => [...toolGroups.values()][0];
const lastStack = () => viewport().setStack.mock.calls.at(-1)?.[0];

beforeEach(() => {
  resetCornerstone();
  vi.mocked(qidoSeries).mockReset().mockResolvedValue([T1, SEG, T2]);
  vi.mocked(seriesMetadata).mockReset().mockImplementation(async (_study, seriesUid) => SLICES[seriesUid]);
  vi.mocked(qidoInstances).mockReset().mockResolvedValue([{ "00080018": { vr: "UI", Value: ["1.2.9.1"] } }]);
  vi.mocked(retrieveInstance).mockReset().mockResolvedValue(segReferencing(T2.uid));
});

describe("study viewer", () => {
  it("lists the image series (not the SEG) and shows the first one's middle slice", async () => {
    open();
    expect(await screen.findByText("2 / 3")).toBeTruthy();
    const thumbnails = screen.getAllByTestId("series-thumbnail");
    expect(thumbnails.map((card) => card.textContent)).toEqual(["MR 1 Head영상 3장", "미리보기 없음MR 2 Neck영상 2장"]);
    expect(within(thumbnails[0]).getByRole("img").getAttribute("src")).toBe("/api/radiology/studies/5/series/11/thumbnail");
    expect(viewport().setStack).toHaveBeenLastCalledWith(frames(T1.uid), 1);
    expect(viewport().render).toHaveBeenCalled();
    expect(group().viewports).toEqual([viewport().id]);
    expect([MouseBindings.Primary, MouseBindings.Auxiliary, MouseBindings.Secondary, MouseBindings.Wheel].map((button) => group().on(button))).toEqual([
      "WindowLevel",
      "Pan",
      "Zoom",
      "StackScroll",
    ]);
    expect(screen.getByRole("combobox", { name: "분할 오버레이" }).getAttribute("placeholder")).toBe("분할 결과 선택");
  });

  it("loads a series on a click, and keeps the slice number with the wheel and the slider", async () => {
    open();
    await screen.findByText("2 / 3");
    fireEvent.click(screen.getAllByTestId("series-thumbnail")[1]);
    expect(await screen.findByText("2 / 2")).toBeTruthy();
    expect(lastStack()).toEqual(frames(T2.uid));
    act(() => {
      viewport().element.dispatchEvent(new CustomEvent(STACK_NEW_IMAGE, { detail: { imageIdIndex: 0 } }));
    });
    expect(screen.getByText("1 / 2")).toBeTruthy();
    fireEvent.keyDown(screen.getByRole("slider", { name: "슬라이스" }), { key: "ArrowRight" });
    expect(screen.getByText("2 / 2")).toBeTruthy();
    expect(viewport().setImageIdIndex).toHaveBeenLastCalledWith(1);
  });

  it("puts the chosen tool on the left button and resets the view", async () => {
    open();
    await screen.findByText("2 / 3");
    fireEvent.click(screen.getByRole("radio", { name: "이동" }));
    await waitFor(() => expect(group().on(MouseBindings.Primary)).toBe("Pan"));
    expect(group().on(MouseBindings.Secondary)).toBe("Zoom");
    fireEvent.click(screen.getByRole("radio", { name: "확대" }));
    await waitFor(() => expect(group().on(MouseBindings.Primary)).toBe("Zoom"));
    expect(group().on(MouseBindings.Auxiliary)).toBe("Pan");
    fireEvent.click(screen.getByRole("button", { name: "초기화" }));
    expect(viewport().resetCamera).toHaveBeenCalled();
    expect(viewport().resetProperties).toHaveBeenCalled();
  });

  it("shows the overlay given at first on the series it was drawn on, with visibility and opacity", async () => {
    let arrive: (bytes: ArrayBuffer) => void = () => {};
    const load = vi.fn(() => new Promise<ArrayBuffer>((resolve) => (arrive = resolve)));
    open({ overlays: [{ key: "ai", label: "AI", load }], initialOverlay: "ai" });
    await screen.findByText("2 / 3"); // the series are listed before the SEG's bytes arrive
    act(() => arrive(segReferencing(T2.uid)));
    expect(await screen.findByText("오버레이 표시 중")).toBeTruthy();
    expect(load).toHaveBeenCalledTimes(1);
    expect(lastStack()).toEqual(frames(T2.uid));
    expect(createFromDICOMSegBuffer.mock.calls.at(-1)?.[0]).toEqual(frames(T2.uid));
    const id = segmentationCalls.addSegmentations.mock.calls.at(-1)?.[0][0].segmentationId;
    expect(segmentationCalls.addSegmentations.mock.calls.at(-1)?.[0][0].representation.data.imageIds).toEqual(["seg:1"]);
    expect(segmentationCalls.addLabelmapRepresentationToViewport).toHaveBeenLastCalledWith(viewport().id, [{ segmentationId: id }]);
    fireEvent.click(screen.getByRole("switch", { name: "오버레이 표시" }));
    await waitFor(() => expect(segmentationCalls.setVisibility).toHaveBeenLastCalledWith(viewport().id, { segmentationId: id, type: "Labelmap" }, false));
    fireEvent.keyDown(screen.getByRole("slider", { name: "불투명도" }), { key: "ArrowRight" });
    await waitFor(() =>
      expect(segmentationCalls.setStyle).toHaveBeenLastCalledWith(
        { type: "Labelmap" },
        { fillAlpha: expect.closeTo(0.55), fillAlphaInactive: expect.closeTo(0.55), outlineOpacity: expect.closeTo(0.85) },
      ),
    );
  });

  it("reads the study's own SEG series by WADO-RS when chosen", async () => {
    open({ initialOverlay: `series:${SEG.uid}` });
    expect(await screen.findByText("오버레이 표시 중")).toBeTruthy();
    expect(qidoInstances).toHaveBeenCalledWith(STUDY_UID, SEG.uid);
    expect(retrieveInstance).toHaveBeenCalledWith(STUDY_UID, SEG.uid, "1.2.9.1");
    expect(lastStack()).toEqual(frames(T2.uid));
  });

  it("says why an overlay cannot be shown", async () => {
    vi.mocked(qidoInstances).mockResolvedValue([]);
    open({ initialOverlay: `series:${SEG.uid}` });
    expect(await screen.findByText("분할 결과를 표시할 수 없습니다: Error: SEG 시리즈에 인스턴스가 없습니다.")).toBeTruthy();
    expect(segmentationCalls.addSegmentations).not.toHaveBeenCalled();
  });

  it("says when the study cannot be read, and offers no overlay without SEG series", async () => {
    vi.mocked(qidoSeries).mockRejectedValue(new Error("503"));
    open();
    expect((await screen.findByRole("alert")).textContent).toBe("영상을 불러오지 못했습니다: Error: 503");
    expect(screen.getByText("—")).toBeTruthy();
    expect(screen.getByRole("combobox", { name: "분할 오버레이" }).getAttribute("placeholder")).toBe("이 검사에는 분할 결과가 없습니다");
  });

  it("lets go of the segmentation, the tool group and the engine when closed", async () => {
    const view = open({ overlays: [{ key: "ai", label: "AI", load: async () => segReferencing(T1.uid) }], initialOverlay: "ai" });
    await screen.findByText("오버레이 표시 중");
    const engine = FakeRenderingEngine.all[0];
    view.unmount();
    expect(segmentationCalls.removeSegmentation).toHaveBeenCalledTimes(1);
    expect(toolGroups.size).toBe(0);
    expect(engine.destroyed).toBe(true);
  });
});

describe("measurements in the viewer", () => {
  const REPORT = {
    sop_instance_uid: "9.1", series_instance_uid: "9", orthanc_id: "o", observer: "Kim", observer_login: "kim", created_at: "2026-12-04T10:00:00",
    measurements: [{ kind: "length", label: "L", tracking_uid: "7.1", sop_instance_uid: "1.2.1.2", series_instance_uid: T1.uid, frame: null,
                     points: [[10, 10], [40, 50]], length_mm: 25 }],
  }; // prettier-ignore
  const answer = (status: number, body: unknown) => () => ({ status, body });

  it("redraws the saved ones on their image, and saves what was drawn since", async () => {
    let posted: unknown = null;
    routeFetch([
      ["/api/radiology/studies/5/measurements", (_url: string, init: RequestInit) => {
        if (init.method !== "POST") return { status: 200, body: [REPORT] };
        posted = JSON.parse(String(init.body));
        return { status: 201, body: REPORT };
      }],
    ]); // prettier-ignore
    open({ canSaveMeasurements: true });
    await waitFor(() => expect(annotationState.get("sr-7.1")?.metadata.referencedImageId).toBe(frames(T1.uid)[1]));
    const drawn = [[1, 1], [5, 4]].map(([column, row]) => [column * PIXEL_MM, row * PIXEL_MM, 0]);
    annotationState.set("mine", { annotationUID: "mine", metadata: { toolName: "Length", referencedImageId: frames(T1.uid)[0] }, data: { handles: { points: drawn } } });
    fireEvent.click(screen.getByRole("button", { name: "계측 저장" }));
    expect((await screen.findByTestId("measurement-message")).textContent).toBe("계측 1개를 DICOM SR로 PACS에 저장했습니다.");
    expect(posted).toEqual({ measurements: [{ kind: "length", sop_instance_uid: "1.2.1.1", frame: null, points: [[1, 1], [5, 4]], label: "" }] });
    expect(annotationState.has("mine")).toBe(false); // the report's locked copy replaces it
  });

  it("says when there is nothing to save, or why saving failed", async () => {
    routeFetch([
      ["/api/radiology/studies/5/measurements", (_url: string, init: RequestInit) =>
        init.method === "POST"
          ? answer(400, { status: 400, error: "validation_failed", detail: "입력값이 올바르지 않습니다.",
                          fields: { measurements: ["The measurements cannot be saved: point (65, 1) lies outside the 64x64 image"] } })()
          : answer(200, [])()],
    ]); // prettier-ignore
    open({ canSaveMeasurements: true });
    await screen.findByText("2 / 3");
    fireEvent.click(screen.getByRole("button", { name: "계측 저장" }));
    expect((await screen.findByTestId("measurement-message")).textContent).toContain("저장할 새 계측이 없습니다");
    annotationState.set("mine", { annotationUID: "mine", metadata: { toolName: "EllipticalROI", referencedImageId: frames(T1.uid)[1] },
      data: { handles: { points: [[1, 2, 0], [1, 0, 0], [0, 1, 0], [2, 1, 0]] } } }); // prettier-ignore
    fireEvent.click(screen.getByRole("button", { name: "계측 저장" }));
    await waitFor(() =>
      expect(screen.getByTestId("measurement-message").textContent).toBe(
        "계측을 저장하지 못했습니다: 입력값이 올바르지 않습니다. · The measurements cannot be saved: point (65, 1) lies outside the 64x64 image",
      ),
    );
    expect(annotationState.has("mine")).toBe(true); // kept, to try again
  });

  it("offers no saving to a role that may not save", async () => {
    routeFetch([["/api/radiology/studies/5/measurements", []]]);
    open();
    await screen.findByText("2 / 3");
    expect(screen.queryByRole("button", { name: "계측 저장" })).toBeNull();
  });
});
