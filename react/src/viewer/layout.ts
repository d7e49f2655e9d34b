// The viewer's panes: what each shows (a pane spec, general enough for a series of another study beside the
// current one), the grid layouts, and the layout a study opens in.
import type { SeriesSummary } from "./dicomweb";
import { brainSeries, guessSequence } from "./sequences";
import type { Sequence } from "./sequences";
import type { OverlaySource } from "./useOverlayChoices";

export interface PaneSpec {
  /** Unique among the panes, stable while the pane shows this series. */
  key: string;
  studyUid: string;
  seriesUid: string;
  label: string;
  modality?: string;
  sequence?: Sequence | null;
  /** Overlays offered while this pane is active, beside the viewer's own (e.g. a prior's AI result). */
  overlays?: OverlaySource[];
  /** Registration to the other panes, mm along the slice normal (see registration.ts). */
  offsetMm?: number;
}

export type Layout = "1x1" | "1x2" | "2x2";
export const LAYOUTS: readonly Layout[] = ["1x1", "1x2", "2x2"];
export const PANE_COUNT: Record<Layout, number> = { "1x1": 1, "1x2": 2, "2x2": 4 };
export const MAX_PANES = 4;

export function specFor(studyUid: string, series: SeriesSummary): PaneSpec {
  return {
    key: `${studyUid}/${series.uid}`,
    studyUid,
    seriesUid: series.uid,
    label: series.description || `#${series.number ?? "?"}`,
    modality: series.modality,
    sequence: guessSequence(series.description),
  };
}

/** Modalities of series that hold no images to scroll through. */
export const NON_IMAGE = new Set(["SEG", "SR", "PR", "KO", "RTSTRUCT", "DOC"]);

/** The series a pane can show. */
export function imageSeriesOf(series: SeriesSummary[]): SeriesSummary[] {
  return series.filter((item) => !NON_IMAGE.has(item.modality));
}

/** Four slots, empty ones null. */
export type Slots = (PaneSpec | null)[];

/** How a study opens: T1, T1C, T2, FLAIR side by side (1x2 for two of them, 2x2 for more) when it has at least
 * two of those types, else its first image series alone. */
export function openingLayout(studyUid: string, imageSeries: SeriesSummary[]): { layout: Layout; slots: Slots } {
  const slots: Slots = Array(MAX_PANES).fill(null);
  const brain = brainSeries(imageSeries);
  if (brain) {
    brain.forEach((item, slot) => (slots[slot] = specFor(studyUid, item.series)));
    return { layout: brain.length === 2 ? "1x2" : "2x2", slots };
  }
  if (imageSeries[0]) slots[0] = specFor(studyUid, imageSeries[0]);
  return { layout: "1x1", slots };
}

/** The slots with the empty ones of the first `count` filled by series not shown yet, in list order. */
export function fillSlots(slots: Slots, count: number, studyUid: string, imageSeries: SeriesSummary[]): Slots {
  const shown = new Set(slots.map((spec) => spec?.seriesUid));
  const unused = imageSeries.filter((item) => !shown.has(item.uid));
  return slots.map((spec, slot) => spec ?? (slot < count && unused.length ? specFor(studyUid, unused.shift()!) : null));
}
