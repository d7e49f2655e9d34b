// The study viewer: Cornerstone3D stack viewport over the CDSS DICOMweb gateway, with series thumbnails,
// wheel and slider scrolling, window/level, zoom, pan, length and ellipse measurements (saved as DICOM SR,
// redrawn when the study is opened again) and a DICOM SEG labelmap overlay. Loaded lazily
// (see ViewerLoader.tsx) so the first page load does not carry Cornerstone, its codecs or its workers.
// The work is in hooks (useStackViewport, useStudySeries, useSeriesStack, tools, useMeasurementLayer,
// useOverlayChoices, useSegOverlay); the parts on screen are SeriesList, ViewerToolbar, SliceSlider and OverlayControls.
import { Alert, Card, Group, Stack } from "@mantine/core";
import { useState } from "react";

import type { Series } from "../api/types";
import { MprView } from "./mpr/MprView";
import { OverlayControls } from "./OverlayControls";
import { SeriesList } from "./SeriesList";
import { SliceSlider } from "./SliceSlider";
import { useLeftButtonTool } from "./tools";
import type { Tool } from "./tools";
import { useMeasurementLayer } from "./useMeasurementLayer";
import { useOverlayChoices } from "./useOverlayChoices";
import type { OverlaySource } from "./useOverlayChoices";
import { useSegOverlay } from "./useSegOverlay";
import { useSeriesStack } from "./useSeriesStack";
import { useStackViewport } from "./useStackViewport";
import { useStudySeries } from "./useStudySeries";
import { ViewerToolbar } from "./ViewerToolbar";

export type { OverlaySource } from "./useOverlayChoices";

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

export default function StudyViewer({ studyId, studyUid, series, overlays = NO_OVERLAYS, initialOverlay, canSaveMeasurements = false }: StudyViewerProps) {
  const [error, setError] = useState<string | null>(null);
  const [tool, setTool] = useState<Tool>("wl");
  const [mpr, setMpr] = useState(false);
  const { element, ids, ready, viewport, reset } = useStackViewport(setError);
  const { listed, imageSeries, segSeries, current, setCurrent } = useStudySeries(studyUid, setError);
  const stack = useSeriesStack({ element, viewport, ready, studyUid, seriesUid: current, onError: setError });
  useLeftButtonTool(ids.tools, ready, tool);
  const measurements = useMeasurementLayer({ studyId, viewportId: ids.viewport, element, imageIds: stack.imageIds });
  const choices = useOverlayChoices(overlays, segSeries, studyUid);
  const overlay = useSegOverlay({
    choices,
    initialKey: initialOverlay,
    viewportId: ids.viewport,
    viewport,
    imageIds: stack.imageIds,
    loading: stack.loading,
    onDrawnOn: (uid) => {
      if (uid !== current && imageSeries.some((item) => item.uid === uid)) setCurrent(uid);
    },
  });

  return (
    <Card withBorder data-testid="study-viewer">
      <Group align="flex-start" wrap="nowrap">
        <SeriesList studyId={studyId} apiSeries={series} items={listed ? imageSeries : null} current={current} onSelect={setCurrent} />
        <Stack style={{ flex: 1 }} gap="xs">
          {error && (
            <Alert color="red" role="alert">
              {error}
            </Alert>
          )}
          <ViewerToolbar
            tool={tool}
            onToolChange={setTool}
            onReset={reset}
            loading={stack.loading}
            onSaveMeasurements={canSaveMeasurements ? () => void measurements.save() : undefined}
            saving={measurements.saving}
            mpr={mpr}
            onMprChange={setMpr}
          />
          {measurements.message && (
            <Alert color={measurements.message.ok ? "green" : "red"} role="status" data-testid="measurement-message">
              {measurements.message.text}
            </Alert>
          )}
          {mpr && current && <MprView studyUid={studyUid} seriesUid={current} tool={tool} />}
          {/* hidden, not removed, under the reformat: its rendering engine stays bound to it */}
          <div
            ref={element}
            onContextMenu={(event) => event.preventDefault()}
            style={{ width: "100%", height: 480, background: "black", position: "relative", display: mpr ? "none" : undefined }}
            data-testid="viewport"
          />
          {!mpr && <SliceSlider index={stack.index} count={stack.imageIds.length} onChange={stack.scrollTo} />}
          <OverlayControls
            choices={choices}
            value={overlay.key}
            onChange={overlay.setKey}
            state={overlay.state}
            error={overlay.error}
            visible={overlay.visible}
            onVisibleChange={overlay.setVisible}
            opacity={overlay.opacity}
            onOpacityChange={overlay.setOpacity}
          />
        </Stack>
      </Group>
    </Card>
  );
}
