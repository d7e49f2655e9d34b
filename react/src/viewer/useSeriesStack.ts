// A series in a pane's stack viewport: metadata by WADO-RS, one wadors image id per frame, the middle slice
// shown first, then the rest fetched in the background (progressive loading, prefetch.ts) with a count of
// the frames loaded; the slice index follows wheel scrolling and moves the viewport when set; the slices'
// positions (registration.ts) let other panes follow.
import { Enums as CoreEnums } from "@cornerstonejs/core";
import type { StackViewport } from "@cornerstonejs/core";
import { useCallback, useEffect, useRef, useState } from "react";
import type { RefObject } from "react";
import { useTranslation } from "react-i18next";

import { addInstanceMetadata } from "./cornerstone";
import { imageIdsFor, seriesMetadata, sortInstances } from "./dicomweb";
import { prefetchImages } from "./prefetch";
import { slicePositions } from "./registration";
import type { SliceGeometry } from "./registration";

export interface SeriesStackOptions {
  element: RefObject<HTMLDivElement | null>;
  viewport: () => StackViewport | undefined;
  /** The viewport is enabled on the element. */
  ready: boolean;
  studyUid: string | null;
  seriesUid: string | null;
  onError: (message: string) => void;
  /** Told when the series' first image is on screen. */
  onShown?: () => void;
}

/** How often the loaded count is shown while frames arrive (a render per frame would be wasted). */
const PROGRESS_MS = 100;

export function useSeriesStack({ element, viewport, ready, studyUid, seriesUid, onError, onShown }: SeriesStackOptions) {
  const { t } = useTranslation();
  const [imageIds, setImageIds] = useState<string[]>([]);
  const [shownSeries, setShownSeries] = useState<string | null>(null);
  const [geometry, setGeometry] = useState<SliceGeometry | null>(null);
  const [loading, setLoading] = useState(false);
  const [index, setIndex] = useState(0);
  const [loaded, setLoaded] = useState(0);
  const shown = useRef(onShown);
  shown.current = onShown;

  useEffect(() => {
    if (!ready || !studyUid || !seriesUid) return;
    let cancelled = false;
    let stopPrefetch = () => {};
    let progress: ReturnType<typeof setTimeout> | undefined;
    setLoading(true);
    setLoaded(0);
    (async () => {
      const instances = sortInstances(await seriesMetadata(studyUid, seriesUid));
      const frames = imageIdsFor(studyUid, seriesUid, instances);
      addInstanceMetadata(frames, instances);
      if (cancelled) return;
      const stack = viewport();
      if (!stack) return;
      const middle = Math.floor(frames.length / 2);
      await stack.setStack(frames, middle); // only the middle image is fetched before it is shown
      stack.render();
      if (cancelled) return;
      setImageIds(frames);
      setShownSeries(seriesUid);
      setGeometry(slicePositions(instances));
      setIndex(middle);
      shown.current?.();
      let latest = 0;
      stopPrefetch = prefetchImages(frames, middle, (count) => {
        latest = count;
        if (count < frames.length) {
          progress ??= setTimeout(() => {
            progress = undefined;
            setLoaded(latest);
          }, PROGRESS_MS);
          return;
        }
        clearTimeout(progress);
        setLoaded(count);
      });
    })()
      .catch((caught: unknown) => !cancelled && onError(t("viewer.loadFailed", { detail: String(caught) })))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
      stopPrefetch();
      clearTimeout(progress);
    };
  }, [ready, studyUid, seriesUid, viewport, t, onError]);

  // keep the index in step with wheel scrolling
  useEffect(() => {
    const node = element.current;
    if (!node) return;
    const onNewImage = (event: Event) => setIndex((event as CustomEvent<{ imageIdIndex: number }>).detail.imageIdIndex);
    node.addEventListener(CoreEnums.Events.STACK_NEW_IMAGE, onNewImage);
    return () => node.removeEventListener(CoreEnums.Events.STACK_NEW_IMAGE, onNewImage);
  }, [element]);

  const scrollTo = useCallback(
    (next: number) => {
      setIndex(next);
      void viewport()?.setImageIdIndex(next);
    },
    [viewport],
  );

  /** shownSeries: the series whose images are in the stack (the one asked for once it has loaded). */
  return { imageIds, shownSeries, geometry, index, loading, loaded, total: imageIds.length, scrollTo };
}
