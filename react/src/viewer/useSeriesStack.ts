// A series in a pane's stack viewport: metadata by WADO-RS, one wadors image id per frame, then every frame
// fetched in the background (progressive loading, prefetch.ts: the series in one request), while the
// viewport shows the middle slice as soon as it is there; a count of the frames loaded; the slice index
// follows wheel scrolling and moves the viewport when set; the slices' positions (registration.ts) let other
// panes follow. The metadata and frames do not wait for the viewport: a pane just added to the grid fetches
// while its viewport is being enabled.
import { Enums as CoreEnums } from "@cornerstonejs/core";
import type { StackViewport } from "@cornerstonejs/core";
import { useCallback, useEffect, useRef, useState } from "react";
import type { RefObject } from "react";
import { useTranslation } from "react-i18next";

import { addInstanceMetadata } from "./cornerstone";
import { imageIdsFor, seriesMetadata, sortInstances } from "./dicomweb";
import { prefetchSeries } from "./prefetch";
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

interface ReadSeries {
  seriesUid: string;
  frames: string[];
  middle: number;
  geometry: SliceGeometry | null;
}

/** How often the loaded count is shown while frames arrive: each update repaints the page, which without a
 * GPU (software rendering) costs the decoding of frames. */
const PROGRESS_MS = 1000;

export function useSeriesStack({ element, viewport, ready, studyUid, seriesUid, onError, onShown }: SeriesStackOptions) {
  const { t } = useTranslation();
  const [read, setRead] = useState<ReadSeries | null>(null);
  const [shown, setShown] = useState<ReadSeries | null>(null);
  const [loading, setLoading] = useState(false);
  const [index, setIndex] = useState(0);
  const [loaded, setLoaded] = useState(0);
  const shownCallback = useRef(onShown);
  shownCallback.current = onShown;
  // settles when this series' first image is drawn: the rest of the series is fetched after it
  const drawn = useRef<() => void>(() => {});

  // the metadata, then every frame in the background
  useEffect(() => {
    if (!studyUid || !seriesUid) return;
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
      const middle = Math.floor(frames.length / 2);
      setRead({ seriesUid, frames, middle, geometry: slicePositions(instances) });
      let latest = 0;
      const shown = new Promise<void>((resolve) => (drawn.current = resolve));
      stopPrefetch = prefetchSeries(studyUid, seriesUid, frames, middle, (count) => {
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
      }, shown);
    })().catch((caught: unknown) => {
      if (cancelled) return;
      setLoading(false);
      onError(t("viewer.loadFailed", { detail: String(caught) }));
    });
    return () => {
      cancelled = true;
      stopPrefetch();
      clearTimeout(progress);
    };
  }, [studyUid, seriesUid, t, onError]);

  // the series in the viewport, at its middle slice (setStack fetches that one frame before showing it)
  useEffect(() => {
    const stack = ready && read ? viewport() : undefined;
    if (!stack || !read) return;
    let cancelled = false;
    (async () => {
      await stack.setStack(read.frames, read.middle);
      stack.render();
      if (cancelled) return;
      setShown(read);
      setIndex(read.middle);
      shownCallback.current?.();
      drawn.current();
    })()
      .catch((caught: unknown) => !cancelled && onError(t("viewer.loadFailed", { detail: String(caught) })))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, [ready, read, viewport, t, onError]);

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

  const imageIds = shown?.frames ?? NO_FRAMES;
  return {
    imageIds,
    /** The series whose images are in the stack (the one asked for, once it is shown). */
    shownSeries: shown?.seriesUid ?? null,
    geometry: shown?.geometry ?? null,
    index,
    loading,
    // frames of the series shown (while another is read, its count is not this stack's)
    loaded: shown && shown === read ? loaded : 0,
    total: imageIds.length,
    scrollTo,
  };
}

const NO_FRAMES: string[] = [];
