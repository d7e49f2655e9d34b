// One study of a prior comparison: its series of the chosen sequence type in a stack viewport of its own,
// its latest AI segmentation offered (and shown), the slice and its position reported, and a position
// from the other pane followed.
import { Alert, Badge, Group, Stack, Text } from "@mantine/core";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import type { Series, StudyDetail } from "../api/types";
import { AI_OVERLAY_KEY, useStudyAiOverlays } from "./aiOverlay";
import { OverlayControls } from "./OverlayControls";
import { nearestSlice } from "./priorRegistration";
import type { StackGeometry } from "./priorRegistration";
import { SliceSlider } from "./SliceSlider";
import { useOverlayChoices } from "./useOverlayChoices";
import { useSegOverlay } from "./useSegOverlay";
import { useSeriesStack } from "./useSeriesStack";
import { useStackViewport } from "./useStackViewport";
import { NON_IMAGE } from "./useStudySeries";

const NO_SEG_SERIES: never[] = [];
const IGNORE = () => {};

/** The study's series of `sequence` (the API's sequence type; null: any), the one with most images. */
export function seriesOfType(series: Series[], sequence: string | null): Series | undefined {
  return series
    .filter((item) => !NON_IMAGE.has(item.modality) && (sequence === null || item.sequence_type === sequence))
    .sort((a, b) => b.number_of_instances - a.number_of_instances || (a.series_number ?? 0) - (b.series_number ?? 0))[0];
}

export interface ComparePaneProps {
  study: StudyDetail;
  label: string;
  sequence: string | null;
  /** A position (mm) to show, from the other pane; a new object each time. */
  follow: { position: number } | null;
  onGeometry: (geometry: StackGeometry) => void;
  /** The slice shown moved: its position, and whether the reader moved it (not following the other pane). */
  onSlice: (position: number, byReader: boolean) => void;
}

export function ComparePane({ study, label, sequence, follow, onGeometry, onSlice }: ComparePaneProps) {
  const { t } = useTranslation();
  const [error, setError] = useState<string | null>(null);
  const { element, ids, ready, viewport } = useStackViewport(setError);
  const series = seriesOfType(study.series, sequence);
  const studyUid = study.study_instance_uid;
  const stack = useSeriesStack({ element, viewport, ready, studyUid, seriesUid: series?.series_instance_uid ?? null, onError: setError });
  const choices = useOverlayChoices(useStudyAiOverlays(study.id), NO_SEG_SERIES, studyUid);
  const overlay = useSegOverlay({
    choices,
    initialKey: AI_OVERLAY_KEY,
    viewportId: ids.viewport,
    viewport,
    imageIds: stack.imageIds,
    loading: stack.loading,
    onDrawnOn: IGNORE, // the pane shows the sequence chosen for both
  });

  const { geometry, index, scrollTo } = stack;
  useEffect(() => {
    if (geometry) onGeometry(geometry);
  }, [geometry, onGeometry]);

  // Following the other pane: the nearest slice, remembered so that its report is not taken for the reader's.
  const followed = useRef<number | null>(null);
  const shown = useRef(index);
  shown.current = index;
  useEffect(() => {
    if (!follow || !geometry) return;
    const target = nearestSlice(geometry.positions, follow.position);
    if (target < 0 || target === shown.current) return;
    followed.current = target;
    scrollTo(target);
  }, [follow, geometry, scrollTo]);

  const position = geometry?.positions[index];
  useEffect(() => {
    if (position === undefined) return;
    onSlice(position, followed.current !== index);
    followed.current = null;
  }, [position, index, onSlice]);

  return (
    <Stack gap={4} data-testid="compare-pane" data-slice={index + 1} data-position={position?.toFixed(1)}>
      <Group gap="xs" justify="space-between">
        <Text fw={600} size="sm" data-testid="pane-label">
          {label}
        </Text>
        <Group gap={4}>
          {series && <Badge variant="light">{series.description || series.sequence_type}</Badge>}
          {position !== undefined && <Text size="xs" c="dimmed">{`${position.toFixed(1)} mm`}</Text>}
        </Group>
      </Group>
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {!series && <Alert color="orange">{t("viewer.noSeriesOfType", { sequence })}</Alert>}
      <div
        ref={element}
        onContextMenu={(event) => event.preventDefault()}
        style={{ width: "100%", height: 420, background: "black", position: "relative" }}
        data-testid="viewport"
      />
      <SliceSlider index={index} count={stack.imageIds.length} onChange={scrollTo} />
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
  );
}
