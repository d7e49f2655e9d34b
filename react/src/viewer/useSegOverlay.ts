// The chosen SEG overlay: its bytes fetched once per choice, the series it was drawn on brought up, then a
// labelmap on the shown stack with its visibility and opacity.
import type { StackViewport } from "@cornerstonejs/core";
import { useEffect, useRef, useState } from "react";

import type { OverlayState } from "./OverlayControls";
import { addLabelmap, labelmapImageIds, referencedSeries, removeLabelmap, styleLabelmap } from "./seg";
import type { OverlaySource } from "./useOverlayChoices";

export interface SegOverlayOptions {
  choices: OverlaySource[];
  initialKey?: string;
  viewportId: string;
  viewport: () => StackViewport | undefined;
  /** The stack shown, and whether another is on its way. */
  imageIds: string[];
  loading: boolean;
  /** Told the series the SEG was drawn on when its bytes arrive. */
  onDrawnOn: (seriesUid: string) => void;
}

export type SegOverlay = ReturnType<typeof useSegOverlay>;

export function useSegOverlay({ choices, initialKey, viewportId, viewport, imageIds, loading, onDrawnOn }: SegOverlayOptions) {
  const [key, setKey] = useState<string | null>(initialKey ?? null);
  const [buffer, setBuffer] = useState<ArrayBuffer | null>(null);
  const [state, setState] = useState<OverlayState>("none");
  const [error, setError] = useState<string | null>(null);
  const [visible, setVisible] = useState(true);
  const [opacity, setOpacity] = useState(0.5);
  const segmentationId = useRef<string | null>(null);

  // the bytes, fetched once per choice whatever re-renders (hence the refs)
  const choicesRef = useRef(choices);
  choicesRef.current = choices;
  const drawnOn = useRef(onDrawnOn);
  drawnOn.current = onDrawnOn;
  const available = choices.some((choice) => choice.key === key);
  useEffect(() => {
    const source = choicesRef.current.find((choice) => choice.key === key);
    if (!source) {
      setBuffer(null);
      setState("none");
      return;
    }
    let cancelled = false;
    setState("loading");
    setError(null);
    source
      .load()
      .then((bytes) => {
        if (cancelled) return;
        const referenced = referencedSeries(bytes);
        if (referenced) drawnOn.current(referenced);
        setBuffer(bytes);
      })
      .catch((caught: unknown) => {
        if (cancelled) return;
        setState("error");
        setError(String(caught));
      });
    return () => {
      cancelled = true;
    };
  }, [key, available]);

  // the labelmap on the shown stack, again for each stack
  useEffect(() => {
    if (!buffer || !imageIds.length || loading) return;
    let cancelled = false;
    const id = `seg-${viewportId}-${Date.now()}`;
    (async () => {
      const labelmapIds = await labelmapImageIds(imageIds, buffer);
      if (cancelled) return;
      addLabelmap(viewportId, id, labelmapIds);
      segmentationId.current = id;
      setState("shown");
    })().catch((caught: unknown) => {
      if (cancelled) return;
      setState("error");
      setError(String(caught));
    });
    return () => {
      cancelled = true;
      if (segmentationId.current === id) {
        removeLabelmap(viewportId, id);
        segmentationId.current = null;
      }
    };
  }, [buffer, imageIds, loading, viewportId]);

  useEffect(() => {
    const id = segmentationId.current;
    if (!id || state !== "shown") return;
    styleLabelmap(viewportId, id, visible, opacity);
    viewport()?.render();
  }, [visible, opacity, state, viewportId, viewport]);

  return { key, setKey, state, error, visible, setVisible, opacity, setOpacity };
}
