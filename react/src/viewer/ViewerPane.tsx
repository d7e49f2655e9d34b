import { Badge, Box, Group, Progress, Text } from "@mantine/core";
import { Enums as CoreEnums } from "@cornerstonejs/core";
import { memo, useCallback, useEffect, useRef, useState } from "react";
import type { KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";

import type { PaneSpec } from "./layout";
import { applyPreset, windowText } from "./presets";
import type { PresetKey, VoiRange } from "./presets";
import { SliceSlider } from "./SliceSlider";
import type { PaneSync } from "./usePaneSync";
import { useSeriesStack } from "./useSeriesStack";
import type { ViewportGrid } from "./useViewportGrid";

/** What the viewer needs to know of a pane: its images (measurements, overlay), how far it has loaded. */
export interface PaneReport {
  studyUid: string | null;
  /** The series the image ids are of (until another has loaded, the one shown before). */
  seriesUid: string | null;
  imageIds: string[];
  loading: boolean;
  loaded: number;
  total: number;
  element: HTMLDivElement | null;
}

export interface ViewerPaneProps {
  slot: number;
  spec: PaneSpec | null;
  grid: ViewportGrid;
  sync: PaneSync;
  /** The only pane (1x1): its viewport element is the one with data-testid="viewport". */
  single: boolean;
  active: boolean;
  height: number;
  onActivate: (slot: number) => void;
  onReport: (slot: number, report: PaneReport | null) => void;
  onShown: () => void;
  onError: (message: string) => void;
}

const STEP_KEYS: Record<string, number> = { ArrowUp: -1, ArrowLeft: -1, PageUp: -1, ArrowDown: 1, ArrowRight: 1, PageDown: 1 };

/** One stack viewport of the grid with its label, load progress and slice slider. A click makes it the
 * active pane; the wheel, the slider and the arrow keys scroll it (and, synchronised, the others). Memoised:
 * the viewer re-renders as every pane reports its progress, a pane only when its own props change. */
export const ViewerPane = memo(function ViewerPane({ slot, spec, grid, sync, single, active, height, onActivate, onReport, onShown, onError }: ViewerPaneProps) {
  const { t } = useTranslation();
  const element = useRef<HTMLDivElement>(null);
  const [enabled, setEnabled] = useState(false);
  const [voi, setVoi] = useState<VoiRange | undefined>();
  const { ready, enable, disable } = grid;

  useEffect(() => {
    const node = element.current;
    if (!ready || !node) return;
    enable(slot, node);
    setEnabled(true);
    return () => {
      disable(slot);
      setEnabled(false);
    };
  }, [ready, enable, disable, slot]);

  const viewport = useCallback(() => (enabled ? grid.viewport(slot) : undefined), [enabled, grid, slot]);
  const stack = useSeriesStack({ element, viewport, ready: enabled, studyUid: spec?.studyUid ?? null, seriesUid: spec?.seriesUid ?? null, onError, onShown });

  // the window shown, as a data attribute (W/L drags and presets both change it)
  useEffect(() => {
    const node = element.current;
    if (!node) return;
    const onVoi = (event: Event) => setVoi((event as CustomEvent<{ range: VoiRange }>).detail.range);
    node.addEventListener(CoreEnums.Events.VOI_MODIFIED, onVoi);
    return () => node.removeEventListener(CoreEnums.Events.VOI_MODIFIED, onVoi);
  }, []);

  const { imageIds, shownSeries, geometry, index, loading, loaded, total, scrollTo } = stack;
  const applyWindow = useCallback(
    (key: PresetKey) => {
      const shown = viewport();
      if (!shown || !imageIds.length) return;
      applyPreset(shown, key);
      setVoi(shown.getProperties().voiRange);
    },
    [viewport, imageIds],
  );
  useEffect(() => sync.register(slot, { geometry, index, offsetMm: spec?.offsetMm, scrollTo, applyPreset: applyWindow }));
  useEffect(() => () => sync.register(slot, null), [sync, slot]);
  useEffect(() => sync.changed(slot), [sync, slot, index]);
  useEffect(() => sync.align(slot), [sync, slot, geometry]);

  useEffect(() => {
    onReport(slot, { studyUid: spec?.studyUid ?? null, seriesUid: shownSeries, imageIds, loading, loaded, total, element: element.current });
  }, [onReport, slot, spec?.studyUid, shownSeries, imageIds, loading, loaded, total]);
  useEffect(() => () => onReport(slot, null), [onReport, slot]);

  const drive = () => sync.drive(slot);
  const step = (event: KeyboardEvent) => {
    const next = index + (STEP_KEYS[event.key] ?? 0);
    // keys pressed on the pane itself (a click on the image focuses it), not those the slider handles
    if (event.target !== event.currentTarget || !(event.key in STEP_KEYS) || next < 0 || next >= total) return;
    event.preventDefault();
    drive();
    scrollTo(next);
  };

  return (
    <Box
      data-testid="viewport-pane"
      data-slot={slot}
      data-active={active}
      data-sequence={spec?.sequence ?? ""}
      data-series-uid={spec?.seriesUid ?? ""}
      data-index={index}
      data-loaded={loaded}
      data-total={total}
      data-window={windowText(voi)}
      tabIndex={0}
      onPointerDownCapture={() => {
        drive();
        onActivate(slot);
      }}
      onWheelCapture={drive}
      onKeyDown={step}
      style={{ flex: 1, minWidth: 0, padding: 2, borderRadius: 4, outline: "none", border: `2px solid ${active && !single ? "var(--mantine-color-blue-6)" : "transparent"}` }}
    >
      {!single && (
        <Group gap={6} wrap="nowrap" h={22}>
          {spec?.sequence && <Badge size="xs">{spec.sequence}</Badge>}
          <Text size="xs" truncate>
            {spec?.label ?? t("viewer.emptyPane")}
          </Text>
        </Group>
      )}
      <div
        ref={element}
        onContextMenu={(event) => event.preventDefault()}
        style={{ width: "100%", height, background: "black", position: "relative" }}
        data-testid={single ? "viewport" : "pane-viewport"}
      />
      {total > 0 && loaded < total && (
        <Group gap={6} wrap="nowrap" data-testid="pane-progress">
          {/* no width transition: with software rendering (no GPU) a bar always easing to its next width keeps the
              compositor redrawing the page, seconds of CPU over a four-pane load */}
          <Progress
            value={(100 * loaded) / total}
            size={3}
            transitionDuration={0}
            style={{ flex: 1 }}
            aria-label={t("viewer.loadedOf", { loaded, total })}
          />
          <Text size="xs" c="dimmed">
            {t("viewer.loadedOf", { loaded, total })}
          </Text>
        </Group>
      )}
      <SliceSlider
        index={index}
        count={total}
        onChange={(next) => {
          drive();
          scrollTo(next);
        }}
      />
    </Box>
  );
});

/** What each pane last reported, by slot, and the callback the panes report through. */
export function usePaneReports() {
  const [reports, setReports] = useState<Record<number, PaneReport>>({});
  const onReport = useCallback((slot: number, report: PaneReport | null) => {
    setReports((was) => {
      const next = { ...was };
      if (report) next[slot] = report;
      else delete next[slot];
      return next;
    });
  }, []);
  return { reports, onReport };
}
