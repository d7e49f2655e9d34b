// Cornerstone3D for one viewer: started once, then one rendering engine and one tool group for all its panes.
// Each pane enables its element as a stack viewport when it mounts and disables it when it goes (a layout
// with fewer panes); everything is let go when the viewer closes.
import { Enums as CoreEnums } from "@cornerstonejs/core";
import type { StackViewport } from "@cornerstonejs/core";
import { ToolGroupManager } from "@cornerstonejs/tools";
import { useCallback, useMemo } from "react";

import { createToolGroup, destroyToolGroup } from "./tools";
import { useRenderingEngine } from "./useRenderingEngine";

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
  // the panes enable their own elements (enable, below) as they mount
  const setUp = useCallback(() => {
    createToolGroup(ids.tools);
    return () => destroyToolGroup(ids.tools);
  }, [ids]);
  const { engine, ready } = useRenderingEngine(ids.engine, setUp, onError);

  const viewportId = useCallback((slot: number) => `${ids.viewport}-${slot}`, [ids]);
  const viewport = useCallback((slot: number) => engine.current?.getViewport(viewportId(slot)) as StackViewport | undefined, [engine, viewportId]);
  const enable = useCallback(
    (slot: number, element: HTMLDivElement) => {
      engine.current?.enableElement({ viewportId: viewportId(slot), type: CoreEnums.ViewportType.STACK, element });
      ToolGroupManager.getToolGroup(ids.tools)?.addViewport(viewportId(slot), ids.engine);
    },
    [engine, ids, viewportId],
  );
  const disable = useCallback(
    (slot: number) => {
      if (!engine.current) return; // the whole engine is already gone
      ToolGroupManager.getToolGroup(ids.tools)?.removeViewports(ids.engine, viewportId(slot));
      engine.current.disableElement(viewportId(slot));
    },
    [engine, ids, viewportId],
  );
  const resize = useCallback(() => engine.current?.resize(true, true), [engine]);

  return useMemo(() => ({ ids, ready, viewportId, viewport, enable, disable, resize }), [ids, ready, viewportId, viewport, enable, disable, resize]);
}
