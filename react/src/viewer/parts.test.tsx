import { act, fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import type { Series } from "../api/types";
import { renderPage } from "../test/render";
import { OverlayControls } from "./OverlayControls";
import type { OverlayControlsProps } from "./OverlayControls";
import { PaneControls } from "./PaneControls";
import { SeriesList } from "./SeriesList";
import { SliceSlider } from "./SliceSlider";
import { UnansweringNotice } from "./ViewerLoader";
import { ViewerToolbar } from "./ViewerToolbar";
import { setUnanswering } from "./serverStatus";

describe("SeriesList", () => {
  const items = [
    { uid: "1.2.1", modality: "MR", description: "T1", number: 1, instances: 20 },
    { uid: "1.2.2", modality: "CT", description: "Chest" },
  ];

  it("shows a thumbnail where the API has the series, and selects on a click", () => {
    const onSelect = vi.fn();
    renderPage(<SeriesList studyId={5} apiSeries={[{ id: 11, series_instance_uid: "1.2.1" }] as Series[]} items={items} current="1.2.2" onSelect={onSelect} />);
    const cards = screen.getAllByTestId("series-thumbnail");
    expect(within(cards[0]).getByRole("img", { name: "T1" }).getAttribute("src")).toBe("/api/radiology/studies/5/series/11/thumbnail");
    expect(cards[0].textContent).toContain("영상 20장");
    expect(cards[1].textContent).toBe("미리보기 없음CT  Chest");
    expect(cards[1].style.borderColor).toBe("var(--mantine-color-blue-6)");
    fireEvent.click(cards[0]);
    expect(onSelect).toHaveBeenCalledWith("1.2.1");
  });

  it("says so while the series are on their way (in words: no spinner)", () => {
    const view = renderPage(<SeriesList studyId={5} apiSeries={[]} items={null} current={null} onSelect={() => {}} />);
    expect(screen.getByText("영상 불러오는 중…")).toBeTruthy();
    expect(view.container.querySelector(".mantine-Loader-root")).toBeNull();
    expect(screen.queryAllByTestId("series-thumbnail")).toHaveLength(0);
  });
});

describe("ViewerToolbar", () => {
  it("changes the tool, resets, and says it is loading", () => {
    const onToolChange = vi.fn();
    const onReset = vi.fn();
    const view = renderPage(<ViewerToolbar tool="wl" onToolChange={onToolChange} onReset={onReset} loading />);
    expect((screen.getByRole("radio", { name: "창 조절" }) as HTMLInputElement).checked).toBe(true);
    fireEvent.click(screen.getByRole("radio", { name: "확대" }));
    expect(onToolChange).toHaveBeenCalledWith("zoom");
    fireEvent.click(screen.getByRole("button", { name: "초기화" }));
    expect(onReset).toHaveBeenCalled();
    expect(screen.getByTestId("viewer-loading").textContent).toBe("영상 불러오는 중…");
    expect(view.container.querySelector(".mantine-Loader-root")).toBeNull();
    expect(screen.getByText("휠: 슬라이스 · 가운데 버튼: 이동 · 오른쪽 버튼: 확대")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "계측 저장" })).toBeNull(); // not offered unless allowed
  });

  it("offers the measuring tools and, to those who may, saving them", () => {
    const onToolChange = vi.fn();
    const onSave = vi.fn();
    renderPage(<ViewerToolbar tool="wl" onToolChange={onToolChange} onReset={() => {}} loading={false} onSaveMeasurements={onSave} />);
    fireEvent.click(screen.getByRole("radio", { name: "길이" }));
    expect(onToolChange).toHaveBeenCalledWith("length");
    fireEvent.click(screen.getByRole("radio", { name: "타원" }));
    expect(onToolChange).toHaveBeenCalledWith("ellipse");
    fireEvent.click(screen.getByRole("button", { name: "계측 저장" }));
    expect(onSave).toHaveBeenCalled();
  });
});

describe("SliceSlider", () => {
  it("numbers the slice from one and moves by the keyboard", () => {
    const onChange = vi.fn();
    renderPage(<SliceSlider index={4} count={10} onChange={onChange} />);
    expect(screen.getByText("5 / 10")).toBeTruthy();
    fireEvent.keyDown(screen.getByRole("slider", { name: "슬라이스" }), { key: "ArrowRight" });
    expect(onChange).toHaveBeenCalledWith(5);
  });

  it("shows a dash and stays still without a stack", () => {
    renderPage(<SliceSlider index={0} count={0} onChange={() => {}} />);
    expect(screen.getByText("—")).toBeTruthy();
    expect(screen.getByRole("slider", { name: "슬라이스" }).getAttribute("aria-disabled")).toBe("true");
  });
});

describe("OverlayControls", () => {
  const base: OverlayControlsProps = {
    choices: [{ key: "ai", label: "AI" }],
    value: null,
    onChange: () => {},
    state: "none",
    error: null,
    visible: true,
    onVisibleChange: () => {},
    opacity: 0.5,
    onOpacityChange: () => {},
  };

  it("offers the choices, and the switch and opacity only for a shown overlay", () => {
    const onVisibleChange = vi.fn();
    const view = renderPage(<OverlayControls {...base} />);
    expect(screen.getByRole("combobox", { name: "분할 오버레이" }).getAttribute("placeholder")).toBe("분할 결과 선택");
    expect((screen.getByRole("switch", { name: "오버레이 표시" }) as HTMLInputElement).disabled).toBe(true);
    view.unmount();
    renderPage(<OverlayControls {...base} value="ai" state="shown" onVisibleChange={onVisibleChange} />);
    expect(screen.getByText("오버레이 표시 중")).toBeTruthy();
    fireEvent.click(screen.getByRole("switch", { name: "오버레이 표시" }));
    expect(onVisibleChange).toHaveBeenCalledWith(false);
  });

  it("says when there is nothing to overlay, and why an overlay failed", () => {
    renderPage(<OverlayControls {...base} choices={[]} state="error" error="Error: bad SEG" />);
    expect(screen.getByRole("combobox", { name: "분할 오버레이" }).getAttribute("placeholder")).toBe("이 검사에는 분할 결과가 없습니다");
    expect(screen.getByText("분할 결과를 표시할 수 없습니다: Error: bad SEG")).toBeTruthy();
  });
});

describe("PaneControls", () => {
  it("changes the layout and the sync, and applies a preset", async () => {
    const onLayoutChange = vi.fn();
    const onSyncChange = vi.fn();
    const onPreset = vi.fn();
    renderPage(
      <PaneControls layout="2x2" onLayoutChange={onLayoutChange} sync onSyncChange={onSyncChange} presets={["image", "brain", "bone"]} onPreset={onPreset} />,
    );
    expect((screen.getByRole("radio", { name: "2×2" }) as HTMLInputElement).checked).toBe(true);
    fireEvent.click(screen.getByRole("radio", { name: "1×2" }));
    expect(onLayoutChange).toHaveBeenCalledWith("1x2");
    fireEvent.click(screen.getByRole("switch", { name: "스크롤 동기화" }));
    expect(onSyncChange).toHaveBeenCalledWith(false);
    fireEvent.click(screen.getByRole("combobox", { name: "윈도우 프리셋" }));
    const options = await screen.findAllByRole("option", { hidden: true });
    expect(options.map((option) => option.textContent)).toEqual(["영상 기본 윈도우", "뇌 (W80 L40)", "뼈 (W2800 L600)"]);
    fireEvent.click(options[1]);
    expect(onPreset).toHaveBeenCalledWith("brain");
  });
});

describe("UnansweringNotice", () => {
  it("says which server is not answering while its 503s are retried, and goes when it answers", () => {
    renderPage(<UnansweringNotice />);
    expect(screen.queryByTestId("server-unanswering")).toBeNull();
    act(() => setUnanswering("pacs"));
    expect(screen.getByRole("status").textContent).toBe("영상 서버(PACS)가 응답하지 않습니다. 다시 시도하는 중이며, 응답하면 영상을 계속 불러옵니다.");
    act(() => setUnanswering("cdss"));
    expect(screen.getByRole("status").textContent).toBe("CDSS 서버가 응답하지 않습니다. 다시 시도하는 중이며, 응답하면 영상을 계속 불러옵니다.");
    act(() => setUnanswering(null));
    expect(screen.queryByTestId("server-unanswering")).toBeNull();
  });
});
