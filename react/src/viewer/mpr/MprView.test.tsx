import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import i18n from "../../i18n";
import {
  FakeRenderingEngine,
  IMAGE_VOLUME_MODIFIED,
  MouseBindings,
  VOLUME_NEW_IMAGE,
  eventTarget,
  resetCornerstone,
  setVolumesForViewports,
  synchronizerState,
  toolGroups,
  volumes,
} from "../../test/cornerstone";
import type { FakeVolume } from "../../test/cornerstone";
import { renderPage } from "../../test/render";
import { qidoSeries, seriesMetadata } from "../dicomweb";
import type { DicomJson } from "../dicomweb";
import StudyViewer from "../StudyViewer";
import { MprView } from "./MprView";

vi.mock("@cornerstonejs/core", async () => (await import("../../test/cornerstone")).core);
vi.mock("@cornerstonejs/tools", async () => (await import("../../test/cornerstone")).tools);
vi.mock("@cornerstonejs/adapters", async () => (await import("../../test/cornerstone")).adapters);
vi.mock("../cornerstone", async () => (await import("../../test/cornerstone")).viewerCornerstone);
vi.mock("../dicomweb", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../dicomweb")>()),
  qidoSeries: vi.fn(),
  qidoInstances: vi.fn(),
  seriesMetadata: vi.fn(),
  retrieveInstance: vi.fn(),
}));

const STUDY_UID = "1.2";
const T1 = { uid: "1.2.1", modality: "MR", description: "T1", number: 1, instances: 4 };
const T2 = { uid: "1.2.2", modality: "MR", description: "T2", number: 2, instances: 3 };

const slice = (sop: string, number: number, z: number): DicomJson => ({
  "00080018": { vr: "UI", Value: [sop] },
  "00200013": { vr: "IS", Value: [number] },
  "00200032": { vr: "DS", Value: [0, 0, z] },
  "00200037": { vr: "DS", Value: [1, 0, 0, 0, 1, 0] },
});
/** T1's slices 2 mm apart, listed out of order; T2's three. */
const SLICES: Record<string, DicomJson[]> = {
  [T1.uid]: [slice("1.2.1.3", 3, 4), slice("1.2.1.1", 1, 0), slice("1.2.1.4", 4, 6), slice("1.2.1.2", 2, 2)],
  [T2.uid]: [slice("1.2.2.1", 1, 0), slice("1.2.2.2", 2, 3), slice("1.2.2.3", 3, 6)],
};
const frame = (seriesUid: string, sop: string) => `wadors:${window.location.origin}/api/radiology/dicom-web/studies/${STUDY_UID}/series/${seriesUid}/instances/${sop}/frames/1`;
const T1_VOLUME = `cornerstoneStreamingImageVolume:${T1.uid}`;

const mprEngine = () => FakeRenderingEngine.all.filter((engine) => engine.id.startsWith("cdss-mpr-engine")).at(-1)!;
const mprGroup = () => [...toolGroups.values()].find((group) => group.id.startsWith("cdss-mpr-tools"))!;
const progress = () => screen.getByTestId("mpr-view");
const shownVolume = () => volumes.get(T1_VOLUME) as FakeVolume;

function openMpr(seriesUid = T1.uid, tool?: "wl" | "length") {
  return renderPage(<MprView studyUid={STUDY_UID} seriesUid={seriesUid} tool={tool} />);
}

beforeEach(() => {
  resetCornerstone();
  vi.mocked(qidoSeries).mockReset().mockResolvedValue([T1, T2]);
  vi.mocked(seriesMetadata).mockReset().mockImplementation(async (_study, seriesUid) => SLICES[seriesUid] ?? []);
  // Cornerstone puts the volume's slices in each viewport
  setVolumesForViewports.mockImplementation(async (engine, _inputs, viewportIds) => {
    for (const id of viewportIds) (engine as FakeRenderingEngine).getViewport(id)!.sliceCount = 4;
  });
});

afterEach(async () => {
  await i18n.changeLanguage("ko");
});

describe("multiplanar reformat", () => {
  it("puts the series, in anatomical order, as one volume into axial, coronal and sagittal viewports", async () => {
    openMpr();
    await waitFor(() => expect(setVolumesForViewports).toHaveBeenCalled());
    const engine = mprEngine();
    const viewports = [...engine.viewports.values()];
    expect(viewports.map((viewport) => [viewport.type, viewport.options?.orientation])).toEqual([
      ["orthographic", "axial"],
      ["orthographic", "coronal"],
      ["orthographic", "sagittal"],
    ]);
    expect(shownVolume().imageIds).toEqual(["1.2.1.1", "1.2.1.2", "1.2.1.3", "1.2.1.4"].map((sop) => frame(T1.uid, sop)));
    expect(setVolumesForViewports).toHaveBeenCalledWith(engine, [{ volumeId: T1_VOLUME }], viewports.map((viewport) => viewport.id));
    expect(shownVolume().load).toHaveBeenCalledTimes(1);
    expect(engine.render).toHaveBeenCalled();
    for (const [plane, name] of [["axial", "축상면"], ["coronal", "관상면"], ["sagittal", "시상면"]]) {
      await waitFor(() => expect(screen.getByTestId(`mpr-${plane}`).textContent).toBe(`${name} 1 / 4`));
    }
    expect(synchronizerState.get([...synchronizerState.keys()][0])?.viewports).toEqual(viewports.map((viewport) => viewport.id));
  });

  it("counts the frames as they stream in", async () => {
    openMpr();
    await waitFor(() => expect(shownVolume()?.load).toHaveBeenCalled());
    await waitFor(() => expect(progress().dataset).toMatchObject({ loaded: "0", total: "4" }));
    expect(screen.getByTestId("mpr-progress").textContent).toBe("영상 0 / 4장 불러옴");
    const modified = (volumeId: string, framesProcessed: number) =>
      act(() => void eventTarget.dispatchEvent(new CustomEvent(IMAGE_VOLUME_MODIFIED, { detail: { volumeId, framesProcessed } })));
    modified(T1_VOLUME, 2);
    modified("cornerstoneStreamingImageVolume:other", 3); // another viewer's volume
    expect(progress().dataset).toMatchObject({ loaded: "2", total: "4" });
    expect(screen.getByTestId("mpr-progress").textContent).toBe("영상 2 / 4장 불러옴");
    act(() => shownVolume().done!({ framesLoaded: 4, totalNumFrames: 4 }));
    expect(progress().dataset).toMatchObject({ loaded: "4", total: "4" });
    expect(screen.queryByRole("status")).toBeNull();
  });

  it("says how many frames could not be loaded", async () => {
    openMpr();
    await waitFor(() => expect(shownVolume()?.load).toHaveBeenCalled());
    act(() => shownVolume().done!({ framesLoaded: 3, totalNumFrames: 4 }));
    expect(screen.getByRole("status").textContent).toBe("영상 1장을 불러오지 못해 검게 표시됩니다.");
  });

  it("follows the slice shown in each plane", async () => {
    openMpr();
    const axial = await screen.findByTestId("mpr-axial");
    await waitFor(() => expect(axial.textContent).toBe("축상면 1 / 4"));
    const element = [...mprEngine().viewports.values()][0].element;
    act(() => void element.dispatchEvent(new CustomEvent(VOLUME_NEW_IMAGE, { detail: { imageIndex: 2, numberOfSlices: 4 } })));
    expect(axial.textContent).toBe("축상면 3 / 4");
    expect(axial.dataset.slice).toBe("2");
  });

  it("scrolls on the wheel, pans and zooms on the other buttons, and moves the planes with crosshairs", async () => {
    openMpr(T1.uid, "length");
    await waitFor(() => expect(shownVolume()?.load).toHaveBeenCalled());
    const group = mprGroup();
    expect(group.viewports).toHaveLength(3);
    const on = () => [MouseBindings.Primary, MouseBindings.Auxiliary, MouseBindings.Secondary, MouseBindings.Wheel].map((button) => group.on(button));
    expect(on()).toEqual(["WindowLevel", "Pan", "Zoom", "StackScroll"]); // lengths stay on the acquired slices
    fireEvent.click(screen.getByRole("switch", { name: "십자선" }));
    await waitFor(() => expect(group.on(MouseBindings.Primary)).toBe("Crosshairs"));
    fireEvent.click(screen.getByRole("switch", { name: "십자선" }));
    await waitFor(() => expect(group.on(MouseBindings.Primary)).toBe("WindowLevel"));
    expect(group.bindings.has("Crosshairs")).toBe(false);
    fireEvent.click(screen.getByRole("button", { name: "초기화" }));
    for (const viewport of mprEngine().viewports.values()) expect(viewport.resetCamera).toHaveBeenCalled();
  });

  it("refuses a series of fewer than three slices, saying why", async () => {
    SLICES["1.2.7"] = SLICES[T1.uid].slice(0, 2);
    openMpr("1.2.7");
    expect((await screen.findByTestId("mpr-refusal")).textContent).toBe(
      "다평면 재구성에는 평행하고 간격이 고른 슬라이스가 3장 이상 필요합니다: 이 시리즈의 슬라이스는 2장입니다",
    );
    expect(volumes.size).toBe(0);
    expect(screen.queryByTestId("mpr-progress")).toBeNull();
  });

  it("refuses unevenly spaced slices, in English too", async () => {
    await i18n.changeLanguage("en");
    SLICES["1.2.8"] = SLICES[T1.uid].filter((item) => item["00200013"]!.Value![0] !== 3);
    openMpr("1.2.8");
    expect((await screen.findByTestId("mpr-refusal")).textContent).toBe(
      "MPR needs at least 3 parallel, evenly spaced slices: the gap after image 2 is 4.0 mm, the others 2.0 mm",
    );
  });

  it("lets go of the volume, the synchroniser, the tool group and the engine when closed", async () => {
    const view = openMpr();
    await waitFor(() => expect(shownVolume()?.load).toHaveBeenCalled());
    const engine = mprEngine();
    view.unmount();
    expect(engine.destroyed).toBe(true);
    expect(toolGroups.size).toBe(0);
    expect(synchronizerState.size).toBe(0);
    expect(volumes.size).toBe(0);
  });
});

describe("the reformat in the study viewer", () => {
  it("takes the stack's place on the toolbar's switch, follows the series chosen and the tool, and gives it back", async () => {
    renderPage(<StudyViewer studyId={5} studyUid={STUDY_UID} series={[]} />);
    expect(await screen.findByText("3 / 4")).toBeTruthy(); // the stack's middle slice
    fireEvent.click(screen.getByRole("button", { name: "다평면 재구성" }));
    await waitFor(() => expect(shownVolume()?.load).toHaveBeenCalled());
    expect(screen.getByTestId("pane-grid").style.display).toBe("none"); // hidden, its engine kept
    expect(screen.queryByRole("slider", { name: "슬라이스" })).toBeNull();
    fireEvent.click(screen.getByRole("radio", { name: "이동" }));
    await waitFor(() => expect(mprGroup().on(MouseBindings.Primary)).toBe("Pan"));

    const first = [...mprEngine().viewports.values()];
    fireEvent.click(screen.getAllByTestId("series-thumbnail")[1]);
    await waitFor(() => expect(volumes.has(`cornerstoneStreamingImageVolume:${T2.uid}`)).toBe(true));
    expect(volumes.has(T1_VOLUME)).toBe(false); // the first series' volume is let go, out of the viewports first
    for (const viewport of first) expect(viewport.removeAllActors).toHaveBeenCalled();

    const engine = mprEngine();
    fireEvent.click(screen.getByRole("button", { name: "다평면 재구성" }));
    expect(screen.queryByTestId("mpr-view")).toBeNull();
    expect(engine.destroyed).toBe(true);
    expect(volumes.size).toBe(0);
    expect(screen.getByTestId("pane-grid").style.display).toBe("");
  });
});
