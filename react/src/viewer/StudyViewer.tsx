// The study viewer: Cornerstone3D stack viewports over the CDSS DICOMweb gateway in a grid of up to four panes
// (a brain-tumour MR study opens with T1, T1C, T2 and FLAIR side by side), scrolling synchronised by slice
// position, series thumbnails, window/level and presets, zoom, pan, a multiplanar reformat of the active pane's series, length and ellipse measurements (saved as
// DICOM SR, redrawn when the study is opened again), a DICOM SEG labelmap overlay, and progressive loading
// (each pane's first image at once, the rest in the background). Loaded lazily (see ViewerLoader.tsx) so the
// first page load does not carry Cornerstone, its codecs or its workers.
// The work is in hooks (useViewportGrid, useStudySeries, usePaneLayout, usePaneSync, useSeriesStack, tools,
// useMeasurementLayer, useOverlayChoices, useSegOverlay, useLoadMarks); the parts on screen are SeriesList,
// ViewerToolbar, PaneControls, ViewerPane, SliceSlider and OverlayControls.
import { Alert, Card, Group, SimpleGrid, Stack } from "@mantine/core";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import type { Series } from "../api/types";
import { specFor } from "./layout";
import { MprView } from "./mpr/MprView";
import { OverlayControls, overlayControls } from "./OverlayControls";
import { PaneControls } from "./PaneControls";
import { presetsFor } from "./presets";
import type { PresetKey } from "./presets";
import { SeriesList } from "./SeriesList";
import { useLeftButtonTool } from "./tools";
import type { Tool } from "./tools";
import { useLoadMarks } from "./useLoadMarks";
import { useMeasurementLayer } from "./useMeasurementLayer";
import { useOverlayChoices } from "./useOverlayChoices";
import type { OverlaySource } from "./useOverlayChoices";
import { usePaneLayout } from "./usePaneLayout";
import { usePaneSync } from "./usePaneSync";
import { useSegOverlay } from "./useSegOverlay";
import { useStudySeries } from "./useStudySeries";
import { useViewportGrid } from "./useViewportGrid";
import { ViewerPane, usePaneReports } from "./ViewerPane";
import { ViewerToolbar } from "./ViewerToolbar";

export type { OverlaySource } from "./useOverlayChoices";
export type { PaneSpec } from "./layout";

export interface StudyViewerProps {
  studyId: number;
  studyUid: string;
  /** The API's series (for thumbnails by primary key). */
  series: Series[];
  /** Extra overlays, e.g. the SEG artifact of an AI result; the study's own SEG series are found by QIDO. */
  overlays?: OverlaySource[];
  /** Which overlay to show at first (its key). */
  initialOverlay?: string;
  /** Offer "save measurements" (the roles that may: DOCTOR, RIB). */
  canSaveMeasurements?: boolean;
}

const NO_OVERLAYS: OverlaySource[] = [];
/** Viewport height by the number of rows of panes. */
const PANE_HEIGHT: Record<number, number> = { 1: 480, 2: 300 };

export default function StudyViewer({ studyId, studyUid, series, overlays = NO_OVERLAYS, initialOverlay, canSaveMeasurements = false }: StudyViewerProps) {
  const [error, setError] = useState<string | null>(null);
  const [tool, setTool] = useState<Tool>("wl");
  const [syncOn, setSyncOn] = useState(true);
  const [mpr, setMpr] = useState(false);
  const { reports, onReport } = usePaneReports();
  const grid = useViewportGrid(setError);
  const { listed, imageSeries, segSeries } = useStudySeries(studyUid, setError);
  const panes = usePaneLayout(studyUid, listed ? imageSeries : null);
  const sync = usePaneSync(syncOn);
  useLeftButtonTool(grid.ids.tools, grid.ready, tool);

  const visible = panes.slots.slice(0, panes.count);
  const activeSpec = visible[panes.active] ?? null;
  const marks = useLoadMarks(visible.flatMap((spec, slot) => (spec ? [reports[slot] ?? { loaded: 0, total: 0 }] : [])));

  // the panes' sizes change with the layout and the window: the engine redraws its canvases to fit
  const { resize } = grid;
  const gridElement = useRef<HTMLDivElement>(null);
  useEffect(() => resize(), [panes.count, resize]);
  useEffect(() => {
    const node = gridElement.current;
    if (!node) return;
    const observer = new ResizeObserver(() => resize());
    observer.observe(node);
    return () => observer.disconnect();
  }, [resize]);
  // sync switched on: the others go to the active pane's position
  useEffect(() => {
    if (!syncOn) return;
    sync.drive(panes.active);
    sync.changed(panes.active);
  }, [syncOn, sync, panes.active]);

  // measurements: drawn on and saved from every pane showing this study
  const ownSlots = visible.flatMap((spec, slot) => (spec?.studyUid === studyUid ? [slot] : []));
  const measureSlot = ownSlots.includes(panes.active) ? panes.active : (ownSlots[0] ?? panes.active);
  const { slots, count } = panes;
  const ownImageIds = useMemo(
    () => slots.slice(0, count).flatMap((spec, slot) => (spec?.studyUid === studyUid ? (reports[slot]?.imageIds ?? []) : [])),
    [slots, count, reports, studyUid],
  );
  const measurements = useMeasurementLayer({ studyId, viewportId: grid.viewportId(measureSlot), element: reports[measureSlot]?.element ?? null, imageIds: ownImageIds });

  // the SEG overlay: on the pane showing the series it was drawn on, else on the active pane
  const [segDrawnOn, setSegDrawnOn] = useState<string | null>(null);
  const shownAt = visible.findIndex((spec) => spec?.studyUid === studyUid && spec.seriesUid === segDrawnOn);
  const overlaySlot = shownAt >= 0 ? shownAt : panes.active;
  const offered = useMemo(() => [...overlays, ...(activeSpec?.overlays ?? [])], [overlays, activeSpec?.overlays]);
  const choices = useOverlayChoices(offered, segSeries, studyUid);
  const overlayViewport = useCallback(() => grid.viewport(overlaySlot), [grid, overlaySlot]);
  const overlay = useSegOverlay({
    choices,
    initialKey: initialOverlay,
    viewportId: grid.viewportId(overlaySlot),
    viewport: overlayViewport,
    imageIds: reports[overlaySlot]?.imageIds ?? [],
    // until the pane's stack is the series it is to show (its report comes a render after a new series is placed)
    loading: !reports[overlaySlot] || reports[overlaySlot].loading || reports[overlaySlot].seriesUid !== visible[overlaySlot]?.seriesUid,
    onDrawnOn: (uid) => {
      setSegDrawnOn(uid);
      const drawnOn = imageSeries.find((item) => item.uid === uid);
      if (drawnOn && !visible.some((spec) => spec?.seriesUid === uid)) panes.place(specFor(studyUid, drawnOn));
    },
  });

  const reset = () => {
    const shown = grid.viewport(panes.active);
    shown?.resetCamera();
    shown?.resetProperties();
    shown?.render();
  };
  const applyPreset = (key: PresetKey) => sync.handles().forEach((pane) => pane.applyPreset(key));
  const rows = panes.count > 2 ? 2 : 1;

  return (
    <Card withBorder data-testid="study-viewer" data-layout={panes.layout}>
      <Group align="flex-start" wrap="nowrap">
        <SeriesList
          studyId={studyId}
          apiSeries={series}
          items={listed ? imageSeries : null}
          current={activeSpec?.studyUid === studyUid ? activeSpec.seriesUid : null}
          onSelect={(uid) => {
            const chosen = imageSeries.find((item) => item.uid === uid);
            if (chosen) panes.place(specFor(studyUid, chosen));
          }}
        />
        <Stack style={{ flex: 1, minWidth: 0 }} gap="xs">
          {error && (
            <Alert color="red" role="alert">
              {error}
            </Alert>
          )}
          <ViewerToolbar
            tool={tool}
            onToolChange={setTool}
            onReset={reset}
            loading={Object.values(reports).some((report) => report.loading)}
            onSaveMeasurements={canSaveMeasurements ? () => void measurements.save() : undefined}
            saving={measurements.saving}
            mpr={mpr}
            onMprChange={setMpr}
          />
          {!mpr && (
            <PaneControls
              layout={panes.layout}
              onLayoutChange={panes.setLayout}
              sync={syncOn}
              onSyncChange={setSyncOn}
              presets={presetsFor(activeSpec?.modality)}
              onPreset={applyPreset}
            />
          )}
          {measurements.message && (
            <Alert color={measurements.message.ok ? "green" : "red"} role="status" data-testid="measurement-message">
              {measurements.message.text}
            </Alert>
          )}
          {mpr && activeSpec && <MprView studyUid={activeSpec.studyUid} seriesUid={activeSpec.seriesUid} tool={tool} />}
          {/* hidden, not removed, under MPR: the panes' engine is bound to their elements */}
          <SimpleGrid
            ref={gridElement}
            cols={panes.count > 1 ? 2 : 1}
            spacing={4}
            verticalSpacing={4}
            data-testid="pane-grid"
            style={mpr ? { display: "none" } : undefined}
          >
            {visible.map((spec, slot) => (
              <ViewerPane
                key={slot}
                slot={slot}
                spec={spec}
                grid={grid}
                sync={sync}
                single={panes.count === 1}
                active={slot === panes.active}
                height={PANE_HEIGHT[rows]}
                onActivate={panes.setActive}
                onReport={onReport}
                onShown={marks.shown}
                onError={setError}
              />
            ))}
          </SimpleGrid>
          <OverlayControls choices={choices} {...overlayControls(overlay)} />
        </Stack>
      </Group>
    </Card>
  );
}
