import { act, render, renderHook, waitFor } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";

import "../i18n";
import { releaseFrame, retrieveSeriesFrames } from "./seriesRetrieve";
import { FakeRenderingEngine, FakeViewport, STACK_NEW_IMAGE, loadAndCacheImage, poolRequests, resetCornerstone, segmentationCalls, toolGroups, viewerCornerstone } from "../test/cornerstone";
import { segReferencing } from "../test/dicom";
import { qidoInstances, qidoSeries, retrieveInstance, seriesMetadata } from "./dicomweb";
import type { DicomJson } from "./dicomweb";
import { useOverlayChoices } from "./useOverlayChoices";
import { useRenderingEngine } from "./useRenderingEngine";
import type { OverlaySource } from "./useOverlayChoices";
import { useSegOverlay } from "./useSegOverlay";
import type { SegOverlayOptions } from "./useSegOverlay";
import { useSeriesStack } from "./useSeriesStack";
import { useStudySeries } from "./useStudySeries";
import { useViewportGrid } from "./useViewportGrid";

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
vi.mock("./seriesRetrieve", () => ({ retrieveSeriesFrames: vi.fn(), releaseFrame: vi.fn() }));

const MR = { uid: "1.2.1", modality: "MR", description: "T1" };
const SR = { uid: "1.2.8", modality: "SR", description: "Report" };
const SEG = { uid: "1.2.9", modality: "SEG", description: "" };
const sop = (uid: string): DicomJson => ({ "00080018": { vr: "UI", Value: [uid] } });
const AXIAL = [1, 0, 0, 0, 1, 0];

beforeEach(() => {
  resetCornerstone();
  viewerCornerstone.startCornerstone.mockReset().mockResolvedValue(undefined);
  vi.mocked(qidoSeries).mockReset();
  vi.mocked(seriesMetadata).mockReset();
  vi.mocked(qidoInstances).mockReset();
  vi.mocked(retrieveInstance).mockReset();
  vi.mocked(retrieveSeriesFrames).mockReset().mockRejectedValue(new Error("series retrieval answered 406"));
  loadAndCacheImage.mockClear();
});

describe("useViewportGrid", () => {
  let grid: ReturnType<typeof useViewportGrid>;
  function Grid({ onError }: { onError: (message: string) => void }) {
    grid = useViewportGrid(onError);
    return null;
  }

  it("starts one engine and one tool group, enables and disables the panes' elements, and lets go", async () => {
    const view = render(<Grid onError={() => {}} />);
    await waitFor(() => expect(grid.ready).toBe(true));
    const engine = FakeRenderingEngine.all[0];
    expect(engine.id).toBe(grid.ids.engine);
    const [first, second] = [document.createElement("div"), document.createElement("div")];
    grid.enable(0, first);
    grid.enable(1, second);
    expect(grid.viewport(1)?.element).toBe(second);
    expect(toolGroups.get(grid.ids.tools)?.viewports).toEqual([grid.viewportId(0), grid.viewportId(1)]);
    grid.disable(1);
    expect(grid.viewport(1)).toBeUndefined();
    expect(toolGroups.get(grid.ids.tools)?.viewports).toEqual([grid.viewportId(0)]);
    grid.resize();
    expect(engine.resize).toHaveBeenCalledWith(true, true);
    view.unmount();
    expect(engine.destroyed).toBe(true);
    expect(toolGroups.size).toBe(0);
  });

  it("gives each viewer its own ids, and reports a failed start", async () => {
    viewerCornerstone.startCornerstone.mockRejectedValue(new Error("no WebGL"));
    const onError = vi.fn();
    render(<Grid onError={onError} />);
    const first = grid.viewportId(0);
    render(<Grid onError={onError} />);
    expect(grid.viewportId(0)).not.toBe(first);
    await waitFor(() => expect(onError).toHaveBeenCalledWith("Error: no WebGL"));
    expect(grid.ready).toBe(false);
  });
});

describe("useRenderingEngine", () => {
  it("lets the engine go at once when the viewer's parts cannot be set up yet, and is not ready", async () => {
    const refuse = () => false as const;
    let state: ReturnType<typeof useRenderingEngine> | undefined;
    function Engine() {
      state = useRenderingEngine("cdss-engine-refused", refuse, () => {});
      return null;
    }
    render(<Engine />);
    await waitFor(() => expect(FakeRenderingEngine.all).toHaveLength(1));
    expect(FakeRenderingEngine.all[0].destroyed).toBe(true);
    expect(state?.ready).toBe(false);
    expect(state?.engine.current).toBeNull();
  });
});

describe("useStudySeries", () => {
  it("lists image and SEG series apart and shows the first image series", async () => {
    vi.mocked(qidoSeries).mockResolvedValue([SR, SEG, MR]);
    const { result } = renderHook(() => useStudySeries("1.2", () => {}));
    expect(result.current.listed).toBe(false);
    await waitFor(() => expect(result.current.listed).toBe(true));
    expect(result.current.imageSeries).toEqual([MR]);
    expect(result.current.segSeries).toEqual([SEG]);
  });

  it("reports a study that cannot be listed", async () => {
    vi.mocked(qidoSeries).mockRejectedValue(new Error("503"));
    const onError = vi.fn();
    renderHook(() => useStudySeries("1.2", onError));
    await waitFor(() => expect(onError).toHaveBeenCalledWith("영상을 불러오지 못했습니다: Error: 503"));
  });
});

describe("useSeriesStack", () => {
  function setUp(seriesUid: string | null = "1.2.1", onShown?: () => void) {
    const element = { current: document.createElement("div") };
    const stack = new FakeViewport("vp", element.current);
    const onError = vi.fn();
    const viewport = () => stack as never;
    const hook = renderHook(({ uid }) => useSeriesStack({ element, viewport, ready: true, studyUid: "1.2", seriesUid: uid, onError, onShown }), {
      initialProps: { uid: seriesUid },
    });
    return { ...hook, element, stack, onError };
  }

  it("puts the series' frames in the viewport at the middle slice, and scrolls", async () => {
    vi.mocked(seriesMetadata).mockResolvedValue([sop("a"), sop("b"), sop("c"), sop("d")]);
    const { result, stack } = setUp();
    await waitFor(() => expect(result.current.imageIds).toHaveLength(4));
    expect(result.current).toMatchObject({ index: 2, loading: false, geometry: null });
    expect(stack.setStack).toHaveBeenCalledWith(result.current.imageIds, 2);
    expect(viewerCornerstone.addInstanceMetadata).toHaveBeenCalledWith(result.current.imageIds, expect.any(Array));
    act(() => result.current.scrollTo(3));
    expect(result.current.index).toBe(3);
    expect(stack.setImageIdIndex).toHaveBeenCalledWith(3);
  });

  it("fetches the shown slice first, then, once it is drawn, the series in one request, each frame as it arrives", async () => {
    vi.mocked(seriesMetadata).mockResolvedValue([sop("a"), sop("b"), sop("c")]);
    let arrive: (imageId: string) => void = () => {};
    let end: () => void = () => {};
    vi.mocked(retrieveSeriesFrames).mockImplementation((_study, _series, _imageIds, onFrame) => {
      arrive = onFrame;
      return new Promise<void>((resolve) => (end = resolve));
    });
    const { result, stack } = setUp("1.2.1");
    await waitFor(() => expect(retrieveSeriesFrames).toHaveBeenCalled());
    // after the pane has drawn its first image: the stream's decoding would hold that up
    expect(stack.setStack.mock.invocationCallOrder[0]).toBeLessThan(vi.mocked(retrieveSeriesFrames).mock.invocationCallOrder[0]);
    const imageIds = result.current.imageIds;
    expect(loadAndCacheImage).toHaveBeenCalledWith(imageIds[1], { requestType: "interaction", priority: 0 });
    expect(vi.mocked(retrieveSeriesFrames).mock.calls[0].slice(0, 3)).toEqual(["1.2", "1.2.1", imageIds]);
    act(() => arrive(imageIds[0]));
    expect(poolRequests).toEqual([{ imageId: imageIds[0], type: "prefetch" }]);
    await waitFor(() => expect(result.current.loaded).toBe(2), { timeout: 3000 }); // the count is shown once a second
    await act(async () => end()); // "c" did not come with the series: fetched by itself
    expect(poolRequests.map((request) => request.imageId)).toEqual([imageIds[0], imageIds[2]]);
    await waitFor(() => expect(result.current.loaded).toBe(3));
    expect(releaseFrame).toHaveBeenCalledWith(imageIds[0]);
  });

  it("fetches frame by frame what the series' request did not bring, nearest first, and counts the frames loaded", async () => {
    const slices = ["a", "b", "c"].map((uid, z) => ({ ...sop(uid), "00200032": { vr: "DS", Value: [0, 0, z] }, "00200037": { vr: "DS", Value: AXIAL } }));
    vi.mocked(seriesMetadata).mockResolvedValue(slices);
    let release: () => void = () => {};
    loadAndCacheImage.mockImplementationOnce(async () => ({})).mockImplementationOnce(() => new Promise((resolve) => (release = () => resolve({}))));
    const onShown = vi.fn();
    const { result, stack } = setUp("1.2.1", onShown);
    await waitFor(() => expect(result.current.imageIds).toHaveLength(3));
    expect(stack.setStack).toHaveBeenCalledWith(result.current.imageIds, 1);
    expect(onShown).toHaveBeenCalledTimes(1);
    expect(result.current.geometry).toEqual({ normal: [0, 0, 1], positions: [0, 1, 2] });
    await waitFor(() => expect(poolRequests).toHaveLength(2));
    expect(poolRequests.map((request) => [request.imageId.split("/instances/")[1], request.type])).toEqual([
      ["c/frames/1", "prefetch"],
      ["a/frames/1", "prefetch"],
    ]);
    await waitFor(() => expect(result.current.loaded).toBe(2), { timeout: 3000 }); // the second is still on its way; the count is shown once a second
    expect(result.current.total).toBe(3);
    act(() => release());
    await waitFor(() => expect(result.current.loaded).toBe(3));
  });

  it("follows the viewport's own slice changes (the wheel)", async () => {
    vi.mocked(seriesMetadata).mockResolvedValue([sop("a"), sop("b")]);
    const { result, element } = setUp();
    await waitFor(() => expect(result.current.imageIds).toHaveLength(2));
    act(() => {
      element.current.dispatchEvent(new CustomEvent(STACK_NEW_IMAGE, { detail: { imageIdIndex: 0 } }));
    });
    expect(result.current.index).toBe(0);
  });

  it("waits for a series, and reports one that cannot be read", async () => {
    vi.mocked(seriesMetadata).mockRejectedValue(new Error("404"));
    const { result, rerender, onError } = setUp(null);
    expect(seriesMetadata).not.toHaveBeenCalled();
    rerender({ uid: "1.2.1" });
    await waitFor(() => expect(onError).toHaveBeenCalledWith("영상을 불러오지 못했습니다: Error: 404"));
    expect(result.current.loading).toBe(false);
  });
});

describe("useOverlayChoices", () => {
  it("offers the overlays given, then the study's SEG series read by WADO-RS", async () => {
    const given: OverlaySource[] = [{ key: "ai", label: "AI", load: async () => new ArrayBuffer(1) }];
    const { result } = renderHook(() => useOverlayChoices(given, [SEG, { ...SEG, uid: "1.2.10", description: "Liver" }], "1.2"));
    expect(result.current.map((choice) => [choice.key, choice.label])).toEqual([
      ["ai", "AI"],
      ["series:1.2.9", "SEG 시리즈: 1.2.9"],
      ["series:1.2.10", "SEG 시리즈: Liver"],
    ]);
    const bytes = new ArrayBuffer(2);
    vi.mocked(qidoInstances).mockResolvedValue([sop("9.1")]);
    vi.mocked(retrieveInstance).mockResolvedValue(bytes);
    expect(await result.current[1].load()).toBe(bytes);
    expect(retrieveInstance).toHaveBeenCalledWith("1.2", "1.2.9", "9.1");
    vi.mocked(qidoInstances).mockResolvedValue([]);
    await expect(result.current[1].load()).rejects.toThrow("SEG 시리즈에 인스턴스가 없습니다.");
  });
});

describe("useSegOverlay", () => {
  const stack = new FakeViewport("vp", document.createElement("div"));
  function setUp(options: Partial<SegOverlayOptions>) {
    const props: SegOverlayOptions = { choices: [], viewportId: "vp", viewport: () => stack as never, imageIds: [], loading: false, onDrawnOn: vi.fn(), ...options };
    return { props, ...renderHook((next: SegOverlayOptions) => useSegOverlay(next), { initialProps: props }) };
  }

  it("loads the chosen overlay once, names the series it was drawn on, then shows it on the stack", async () => {
    const load = vi.fn(async () => segReferencing("1.2.2"));
    const { result, rerender, props } = setUp({ choices: [{ key: "ai", label: "AI", load }], initialKey: "ai" });
    expect(result.current.state).toBe("loading");
    await waitFor(() => expect(props.onDrawnOn).toHaveBeenCalledWith("1.2.2"));
    rerender({ ...props, imageIds: ["f1", "f2"] });
    await waitFor(() => expect(result.current.state).toBe("shown"));
    expect(load).toHaveBeenCalledTimes(1);
    expect(segmentationCalls.addLabelmapRepresentationToViewport).toHaveBeenCalledTimes(1);
    expect(segmentationCalls.setStyle).toHaveBeenLastCalledWith({ type: "Labelmap" }, { fillAlpha: 0.5, fillAlphaInactive: 0.5, outlineOpacity: 0.8 });
    act(() => result.current.setVisible(false));
    expect(segmentationCalls.setVisibility).toHaveBeenLastCalledWith("vp", expect.objectContaining({ type: "Labelmap" }), false);
    rerender({ ...props, imageIds: ["f1", "f2"], loading: true }); // another series on its way
    expect(segmentationCalls.removeSegmentation).toHaveBeenCalledTimes(1);
    act(() => result.current.setKey(null));
    await waitFor(() => expect(result.current.state).toBe("none"));
  });

  it("says why an overlay cannot be loaded", async () => {
    const { result } = setUp({ choices: [{ key: "ai", label: "AI", load: async () => Promise.reject(new Error("gone")) }], initialKey: "ai" });
    await waitFor(() => expect(result.current.state).toBe("error"));
    expect(result.current.error).toBe("Error: gone");
  });

  it("waits for a chosen overlay that is not offered yet", async () => {
    const load = vi.fn(async () => new ArrayBuffer(1));
    const { result, rerender, props } = setUp({ initialKey: "series:1.2.9" });
    expect(result.current.state).toBe("none");
    rerender({ ...props, choices: [{ key: "series:1.2.9", label: "SEG", load }] });
    await waitFor(() => expect(load).toHaveBeenCalledTimes(1));
  });
});
