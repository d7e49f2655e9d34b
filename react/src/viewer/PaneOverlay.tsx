// A pane's own SEG overlay, for a grid whose panes show different studies (a prior comparison): the overlays
// of the pane's study offered, the first given shown at once, drawn on whatever that pane shows.
import { useCallback } from "react";

import { OverlayControls, overlayControls } from "./OverlayControls";
import { useOverlayChoices } from "./useOverlayChoices";
import type { OverlaySource } from "./useOverlayChoices";
import { useSegOverlay } from "./useSegOverlay";
import type { ViewportGrid } from "./useViewportGrid";
import type { PaneReport } from "./ViewerPane";

const NO_SEG_SERIES: never[] = [];
const IGNORE = () => {};

export interface PaneOverlayProps {
  grid: ViewportGrid;
  slot: number;
  studyUid: string;
  /** The series the pane is to show; its report says when its images are there. */
  seriesUid: string | null;
  report: PaneReport | undefined;
  overlays: OverlaySource[];
  initialKey?: string;
}

export function PaneOverlay({ grid, slot, studyUid, seriesUid, report, overlays, initialKey }: PaneOverlayProps) {
  const choices = useOverlayChoices(overlays, NO_SEG_SERIES, studyUid);
  const viewport = useCallback(() => grid.viewport(slot), [grid, slot]);
  const overlay = useSegOverlay({
    choices,
    initialKey,
    viewportId: grid.viewportId(slot),
    viewport,
    imageIds: report?.imageIds ?? [],
    loading: !report || report.loading || report.seriesUid !== seriesUid,
    onDrawnOn: IGNORE, // the pane keeps the sequence type chosen for the comparison
  });
  return (
    <OverlayControls choices={choices} {...overlayControls(overlay)} />
  );
}
