// Cornerstone3D for one viewer: started once, then a rendering engine with one stack viewport on the element
// and its tool group, all let go when the viewer closes.
import { Enums as CoreEnums, RenderingEngine } from "@cornerstonejs/core";
import type { StackViewport } from "@cornerstonejs/core";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { startCornerstone } from "./cornerstone";
import { destroyToolGroup, setUpToolGroup } from "./tools";

let counter = 0;

export interface ViewportIds {
  engine: string;
  viewport: string;
  tools: string;
}

export function useStackViewport(onError: (message: string) => void) {
  const element = useRef<HTMLDivElement>(null);
  const ids: ViewportIds = useMemo(() => {
    counter += 1;
    return { engine: `cdss-engine-${counter}`, viewport: `cdss-viewport-${counter}`, tools: `cdss-tools-${counter}` };
  }, []);
  const engine = useRef<RenderingEngine | null>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    let cancelled = false;
    startCornerstone()
      .then(() => {
        if (cancelled || !element.current) return;
        const renderingEngine = new RenderingEngine(ids.engine);
        renderingEngine.enableElement({ viewportId: ids.viewport, type: CoreEnums.ViewportType.STACK, element: element.current });
        setUpToolGroup(ids.tools, ids.viewport, ids.engine);
        engine.current = renderingEngine;
        setReady(true);
      })
      .catch((caught: unknown) => onError(String(caught)));
    return () => {
      cancelled = true;
      destroyToolGroup(ids.tools);
      engine.current?.destroy();
      engine.current = null;
    };
  }, [ids, onError]);

  /** The stack viewport, once the engine is there. */
  const viewport = useCallback(() => engine.current?.getViewport(ids.viewport) as StackViewport | undefined, [ids]);

  /** Zoom, pan and window/level back as the images came. */
  const reset = useCallback(() => {
    const stack = viewport();
    stack?.resetCamera();
    stack?.resetProperties();
    stack?.render();
  }, [viewport]);

  return { element, ids, ready, viewport, reset };
}
