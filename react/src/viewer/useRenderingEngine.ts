// One Cornerstone rendering engine for as long as a viewer is open (the study viewer's panes, the reformat's
// three planes): Cornerstone started (once per page), the engine made and the viewer's own parts set up on it
// (tool groups, viewports, synchronisers); on close those parts are let go, then the engine.
import { RenderingEngine } from "@cornerstonejs/core";
import { useEffect, useRef, useState } from "react";
import type { RefObject } from "react";

import { startCornerstone } from "./cornerstone";

/** Sets the viewer's parts up on a new engine and answers how to let them go, or false when it cannot yet
 * (its elements are not in the page): the engine is then destroyed and not ready. Keep it stable (useCallback). */
export type EngineSetUp = (engine: RenderingEngine) => (() => void) | false;

export function useRenderingEngine(engineId: string, setUp: EngineSetUp, onError: (message: string) => void): { engine: RefObject<RenderingEngine | null>; ready: boolean } {
  const engine = useRef<RenderingEngine | null>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    let cancelled = false;
    let letGo: (() => void) | false = false;
    startCornerstone()
      .then(() => {
        if (cancelled) return;
        const made = new RenderingEngine(engineId);
        letGo = setUp(made);
        if (!letGo) {
          made.destroy();
          return;
        }
        engine.current = made;
        setReady(true);
      })
      .catch((caught: unknown) => onError(String(caught)));
    return () => {
      cancelled = true;
      if (letGo) letGo();
      engine.current?.destroy();
      engine.current = null;
      setReady(false);
    };
  }, [engineId, setUp, onError]);

  return { engine, ready };
}
