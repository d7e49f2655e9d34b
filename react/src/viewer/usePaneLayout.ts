// Which series each pane shows, the grid layout and the active pane: the study opens in the layout its series
// call for (layout.ts); the series list puts a series in the active pane; a larger layout fills its new panes
// with series not shown yet.
import { useCallback, useEffect, useState } from "react";

import type { SeriesSummary } from "./dicomweb";
import { MAX_PANES, PANE_COUNT, fillSlots, openingLayout } from "./layout";
import type { Layout, PaneSpec, Slots } from "./layout";

export function usePaneLayout(studyUid: string, imageSeries: SeriesSummary[] | null) {
  const [layout, setLayoutState] = useState<Layout>("1x1");
  const [slots, setSlots] = useState<Slots>(() => Array(MAX_PANES).fill(null));
  const [active, setActive] = useState(0);
  const [openedFor, setOpenedFor] = useState<string | null>(null);

  useEffect(() => {
    if (!imageSeries || openedFor === studyUid) return;
    const opening = openingLayout(studyUid, imageSeries);
    setOpenedFor(studyUid);
    setLayoutState(opening.layout);
    setSlots(opening.slots);
    setActive(0);
  }, [studyUid, imageSeries, openedFor]);

  const setLayout = useCallback(
    (next: Layout) => {
      setLayoutState(next);
      setSlots((current) => fillSlots(current, PANE_COUNT[next], studyUid, imageSeries ?? []));
      setActive((slot) => (slot < PANE_COUNT[next] ? slot : 0));
    },
    [studyUid, imageSeries],
  );

  /** Show a series (of this or another study) in the active pane. */
  const place = useCallback((spec: PaneSpec) => setSlots((current) => current.map((old, slot) => (slot === active ? spec : old))), [active]);

  return { layout, setLayout, slots, count: PANE_COUNT[layout], active, setActive, place };
}
