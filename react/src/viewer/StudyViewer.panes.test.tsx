import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { FakeRenderingEngine, STACK_NEW_IMAGE, loadAndCacheImage, resetCornerstone, toolGroups } from "../test/cornerstone";
import type { FakeViewport } from "../test/cornerstone";
import { renderPage } from "../test/render";
import { qidoSeries, seriesMetadata } from "./dicomweb";
import type { DicomJson } from "./dicomweb";
import StudyViewer from "./StudyViewer";

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

// A brain MR study: T2 and FLAIR cut coarser and finer than the T1s, one localizer that is none of the four.
const SERIES = [
  { uid: "1.3.9", modality: "MR", description: "Localizer", number: 1, instances: 1 },
  { uid: "1.3.4", modality: "MR", description: "AX FLAIR", number: 2, instances: 5 },
  { uid: "1.3.3", modality: "MR", description: "AX T2", number: 3, instances: 2 },
  { uid: "1.3.2", modality: "MR", description: "AX T1 POST GD", number: 4, instances: 3 },
  { uid: "1.3.1", modality: "MR", description: "AX T1", number: 5, instances: 3 },
];
const POSITIONS: Record<string, number[]> = {
  "1.3.1": [0, 5, 10],
  "1.3.2": [0, 5, 10],
  "1.3.3": [0, 8],
  "1.3.4": [0, 3, 6, 9, 12],
  "1.3.9": [5],
};
const slices = (seriesUid: string): DicomJson[] =>
  POSITIONS[seriesUid].map((z, index) => ({
    "00080018": { vr: "UI", Value: [`${seriesUid}.${index + 1}`] },
    "00200032": { vr: "DS", Value: [0, 0, z] },
    "00200037": { vr: "DS", Value: [1, 0, 0, 0, 1, 0] },
  }));

const panes = () => screen.getAllByTestId("viewport-pane");
const paneViewport = (slot: number): FakeViewport => {
  const element = within(panes()[slot]).getByTestId(/viewport/);
  return FakeRenderingEngine.viewports().find((viewport) => viewport.element === element)!;
};
const indices = () => panes().map((pane) => pane.dataset.index);

function open() {
  renderPage(<StudyViewer studyId={7} studyUid="1.3" series={[]} />);
}

beforeEach(() => {
  resetCornerstone();
  vi.mocked(qidoSeries).mockReset().mockResolvedValue(SERIES);
  vi.mocked(seriesMetadata).mockReset().mockImplementation(async (_study, seriesUid) => slices(seriesUid));
});
afterEach(() => vi.restoreAllMocks());

describe("the brain-tumour layout", () => {
  it("opens T1, T1C, T2 and FLAIR four-up, each pane with its own series and slice", async () => {
    open();
    await waitFor(() => expect(panes().map((pane) => pane.dataset.total)).toEqual(["3", "3", "2", "5"]));
    expect(panes().map((pane) => pane.dataset.sequence)).toEqual(["T1", "T1C", "T2", "FLAIR"]);
    expect(panes().map((pane) => pane.dataset.seriesUid)).toEqual(["1.3.1", "1.3.2", "1.3.3", "1.3.4"]);
    expect(screen.queryByTestId("viewport")).toBeNull();
    expect(screen.getByText("AX T1 POST GD")).toBeTruthy();
    expect(indices()).toEqual(["1", "1", "1", "2"]); // the middle slices, all at about 5 mm
    expect(screen.getByText("3 / 5")).toBeTruthy();
    expect([...toolGroups.values()][0].viewports).toHaveLength(4); // the tools work in every pane
    expect(panes()[0].dataset.active).toBe("true");
  });

  it("scrolls the other panes to the nearest slice of the position shown, while sync is on", async () => {
    open();
    await waitFor(() => expect(panes()[3].dataset.total).toBe("5"));
    fireEvent.wheel(panes()[0]); // the wheel over the T1 pane makes it the one the others follow
    act(() => {
      paneViewport(0).element.dispatchEvent(new CustomEvent(STACK_NEW_IMAGE, { detail: { imageIdIndex: 2 } }));
    });
    await waitFor(() => expect(indices()).toEqual(["2", "2", "1", "3"])); // 10 mm: T2 at 8, FLAIR at 9
    expect(paneViewport(3).setImageIdIndex).toHaveBeenLastCalledWith(3);
    expect(paneViewport(2).setImageIdIndex).not.toHaveBeenCalled(); // already at its nearest

    fireEvent.keyDown(screen.getAllByRole("slider", { name: "슬라이스" })[3], { key: "ArrowLeft" }); // FLAIR to 6 mm
    await waitFor(() => expect(indices()).toEqual(["1", "1", "1", "2"]));
    fireEvent.keyDown(panes()[3], { key: "ArrowUp" }); // 3 mm
    await waitFor(() => expect(indices()).toEqual(["1", "1", "0", "1"]));

    fireEvent.click(screen.getByRole("switch", { name: "스크롤 동기화" }));
    fireEvent.wheel(panes()[0]);
    act(() => {
      paneViewport(0).element.dispatchEvent(new CustomEvent(STACK_NEW_IMAGE, { detail: { imageIdIndex: 0 } }));
    });
    expect(indices()).toEqual(["0", "1", "0", "1"]);
  });

  it("applies a window preset to every pane", async () => {
    open();
    await waitFor(() => expect(panes()[3].dataset.total).toBe("5"));
    fireEvent.click(screen.getByRole("combobox", { name: "윈도우 프리셋" }));
    // (the dropdown's opening transition never ends in jsdom: its options are found hidden)
    expect(screen.queryByRole("option", { name: "뇌 (W80 L40)", hidden: true })).toBeNull(); // CT windows are for CT
    fireEvent.click(await screen.findByRole("option", { name: "고대비", hidden: true }));
    await waitFor(() => expect(panes().map((pane) => pane.dataset.window)).toEqual(Array(4).fill("W 2000 L 2000")));
    expect(paneViewport(1).setProperties).toHaveBeenLastCalledWith({ voiRange: { lower: 1000, upper: 3000 } });
    fireEvent.click(screen.getByRole("combobox", { name: "윈도우 프리셋" }));
    fireEvent.click(await screen.findByRole("option", { name: "영상 기본 윈도우", hidden: true }));
    await waitFor(() => expect(panes()[2].dataset.window).toBe("W 100 L 50"));
    expect(paneViewport(2).resetProperties).toHaveBeenCalled();
  });

  it("puts a chosen series in the active pane, and changes the layout", async () => {
    open();
    await waitFor(() => expect(panes()[3].dataset.total).toBe("5"));
    fireEvent.pointerDown(panes()[2]);
    expect(panes()[2].dataset.active).toBe("true");
    fireEvent.click(screen.getAllByTestId("series-thumbnail")[0]); // the localizer
    await waitFor(() => expect(panes()[2].dataset.seriesUid).toBe("1.3.9"));
    expect(panes()[2].dataset.sequence).toBe("");

    fireEvent.click(screen.getByRole("radio", { name: "1×1" }));
    await waitFor(() => expect(panes()).toHaveLength(1));
    expect(screen.getAllByTestId("viewport")).toHaveLength(1);
    expect(panes()[0].dataset.seriesUid).toBe("1.3.1");
    expect([...toolGroups.values()][0].viewports).toHaveLength(1);
    expect(FakeRenderingEngine.all[0].resize).toHaveBeenCalled();

    fireEvent.click(screen.getByRole("radio", { name: "2×2" }));
    await waitFor(() => expect(panes().map((pane) => pane.dataset.seriesUid)).toEqual(["1.3.1", "1.3.2", "1.3.9", "1.3.4"]));
  });
});

describe("progressive loading", () => {
  it("shows each pane's progress, then marks the first image and the whole exam loaded", async () => {
    const mark = vi.spyOn(performance, "mark");
    let release: () => void = () => {};
    const held = new Promise<object>((resolve) => (release = () => resolve({})));
    loadAndCacheImage.mockImplementation(async (imageId: string) => (imageId.includes("/instances/1.3.4.1/") ? held : {}));
    open();
    await waitFor(() => expect(panes()[3].dataset.loaded).toBe("4"));
    expect(within(panes()[3]).getByText("불러옴 4/5")).toBeTruthy();
    expect(panes().map((pane) => pane.dataset.loaded === pane.dataset.total)).toEqual([true, true, true, false]);
    expect(mark.mock.calls.map(([name]) => name)).toEqual(["cdss:viewer:open", "cdss:viewer:first-image"]);
    act(() => release());
    await waitFor(() => expect(panes()[3].dataset.loaded).toBe("5"));
    expect(within(panes()[3]).queryByTestId("pane-progress")).toBeNull();
    await waitFor(() => expect(mark.mock.calls.map(([name]) => name)).toEqual(["cdss:viewer:open", "cdss:viewer:first-image", "cdss:viewer:all-loaded"]));
  });
});
