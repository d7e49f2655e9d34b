// Cornerstone3D for one viewer: started once, then one rendering engine and one tool group for all its panes.
// Each pane enables its element as a stack viewport when it mounts and disables it when it goes (a layout
// with fewer panes); everything is let go when the viewer closes.
import { Enums as CoreEnums, RenderingEngine } from "@cornerstonejs/core";
import type { StackViewport } from "@cornerstonejs/core";
import { ToolGroupManager } from "@cornerstonejs/tools";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { startCornerstone } from "./cornerstone";
import { createToolGroup, destroyToolGroup } from "./tools";

let counter = 0;

export interface ViewportGrid {
  ids: { engine: string; tools: string };
  /** The engine is up: panes may enable their elements. */
  ready: boolean;
  viewportId: (slot: number) => string;
  viewport: (slot: number) => StackViewport | undefined;
  enable: (slot: number, element: HTMLDivElement) => void;
  disable: (slot: number) => void;
  /** After the panes' sizes changed (a new layout, a resized window). */
  resize: () => void;
}

export function useViewportGrid(onError: (message: string) => void): ViewportGrid {
  const ids = useMemo(() => {
    counter += 1;
    return { engine: `cdss-engine-${counter}`, tools: `cdss-tools-${counter}`, viewport: `cdss-viewport-${counter}` };
  }, []);
  const engine = useRef<RenderingEngine | null>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    let cancelled = false;
    startCornerstone()
      .then(() => {
        if (cancelled) return;
        engine.current = new RenderingEngine(ids.engine);
        createToolGroup(ids.tools);
        setReady(true);
      })
      .catch((caught: unknown) => onError(String(caught)));
    return () => {
      cancelled = true;
      destroyToolGroup(ids.tools);
      engine.current?.destroy();
      engine.current = null;
      setReady(false);
    };
  }, [ids, onError]);

  const viewportId = useCallback((slot: number) => `${ids.viewport}-${slot}`, [ids]);
  const viewport = useCallback((slot: number) => engine.current?.getViewport(viewportId(slot)) as StackViewport | undefined, [viewportId]);
  const enable = useCallback(
    (slot: number, element: HTMLDivElement) => {
      engine.current?.enableElement({ viewportId: viewportId(slot), type: CoreEnums.ViewportType.STACK, element });
      ToolGroupManager.getToolGroup(ids.tools)?.addViewport(viewportId(slot), ids.engine);
    },
    [ids, viewportId],
  );
  const disable = useCallback(
    (slot: number) => {
      if (!engine.current) return; // the whole engine is already gone
      ToolGroupManager.getToolGroup(ids.tools)?.removeViewports(ids.engine, viewportId(slot));
      engine.current.disableElement(viewportId(slot));
    },
    [ids, viewportId],
  );
  const resize = useCallback(() => engine.current?.resize(true, true), []);

  return useMemo(() => ({ ids, ready, viewportId, viewport, enable, disable, resize }), [ids, ready, viewportId, viewport, enable, disable, resize]);
}
