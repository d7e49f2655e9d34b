// The chosen series in the stack viewport: metadata by WADO-RS, one wadors image id per frame, the middle slice
// first; the slice index follows wheel scrolling and moves the viewport when set; each slice's position
// along the normal for registering it with another stack.
import { Enums as CoreEnums } from "@cornerstonejs/core";
import type { StackViewport } from "@cornerstonejs/core";
import { useCallback, useEffect, useState } from "react";
import type { RefObject } from "react";
import { useTranslation } from "react-i18next";

import { addInstanceMetadata } from "./cornerstone";
import { imageIdsFor, seriesMetadata, sortInstances } from "./dicomweb";
import { stackGeometry } from "./priorRegistration";
import type { StackGeometry } from "./priorRegistration";

export interface SeriesStackOptions {
  element: RefObject<HTMLDivElement | null>;
  viewport: () => StackViewport | undefined;
  ready: boolean;
  studyUid: string;
  seriesUid: string | null;
  onError: (message: string) => void;
}

export function useSeriesStack({ element, viewport, ready, studyUid, seriesUid, onError }: SeriesStackOptions) {
  const { t } = useTranslation();
  const [imageIds, setImageIds] = useState<string[]>([]);
  const [loading, setLoading] = useState(false);
  const [index, setIndex] = useState(0);
  const [geometry, setGeometry] = useState<StackGeometry | null>(null);

  useEffect(() => {
    if (!ready || !seriesUid) return;
    let cancelled = false;
    setLoading(true);
    (async () => {
      const instances = sortInstances(await seriesMetadata(studyUid, seriesUid));
      const frames = imageIdsFor(studyUid, seriesUid, instances);
      addInstanceMetadata(frames, instances);
      if (cancelled) return;
      const stack = viewport();
      if (!stack) return;
      const middle = Math.floor(frames.length / 2);
      await stack.setStack(frames, middle);
      stack.render();
      if (cancelled) return;
      setImageIds(frames);
      setGeometry(stackGeometry(instances, frames.length));
      setIndex(middle);
    })()
      .catch((caught: unknown) => !cancelled && onError(t("viewer.loadFailed", { detail: String(caught) })))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, [ready, seriesUid, studyUid, viewport, t, onError]);

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

  return { imageIds, geometry, index, loading, scrollTo };
}
