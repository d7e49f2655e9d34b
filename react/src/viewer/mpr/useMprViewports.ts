// The reformat's Cornerstone parts: one rendering engine with three orthographic volume viewports (axial,
// coronal, sagittal), one tool group over them and one window/level shared by the three; all let go on close.
import { Enums as CoreEnums } from "@cornerstonejs/core";
import type { RenderingEngine, VolumeViewport } from "@cornerstonejs/core";
import { SynchronizerManager, synchronizers } from "@cornerstonejs/tools";
import { useCallback, useMemo, useRef } from "react";
import type { RefObject } from "react";

import { destroyToolGroup } from "../tools";
import { useRenderingEngine } from "../useRenderingEngine";
import { setUpMprTools } from "./mprTools";

export const PLANES = ["axial", "coronal", "sagittal"] as const;
export type Plane = (typeof PLANES)[number];

const ORIENTATIONS: Record<Plane, CoreEnums.OrientationAxis> = {
  axial: CoreEnums.OrientationAxis.AXIAL,
  coronal: CoreEnums.OrientationAxis.CORONAL,
  sagittal: CoreEnums.OrientationAxis.SAGITTAL,
};

let counter = 0;

export interface MprIds {
  engine: string;
  tools: string;
  voi: string;
  viewports: Record<Plane, string>;
}

export function useMprViewports(onError: (message: string) => void) {
  const axial = useRef<HTMLDivElement>(null);
  const coronal = useRef<HTMLDivElement>(null);
  const sagittal = useRef<HTMLDivElement>(null);
  const elements: Record<Plane, RefObject<HTMLDivElement | null>> = useMemo(() => ({ axial, coronal, sagittal }), []);
  const ids: MprIds = useMemo(() => {
    counter += 1;
    const viewports = { axial: `cdss-mpr-axial-${counter}`, coronal: `cdss-mpr-coronal-${counter}`, sagittal: `cdss-mpr-sagittal-${counter}` };
    return { engine: `cdss-mpr-engine-${counter}`, tools: `cdss-mpr-tools-${counter}`, voi: `cdss-mpr-voi-${counter}`, viewports };
  }, []);
  const setUp = useCallback(
    (renderingEngine: RenderingEngine) => {
      if (PLANES.some((plane) => !elements[plane].current)) return false;
      for (const plane of PLANES) {
        renderingEngine.enableElement({
          viewportId: ids.viewports[plane],
          type: CoreEnums.ViewportType.ORTHOGRAPHIC,
          element: elements[plane].current!,
          defaultOptions: { orientation: ORIENTATIONS[plane] },
        });
      }
      const viewportIds = PLANES.map((plane) => ids.viewports[plane]);
      setUpMprTools(ids.tools, viewportIds, ids.engine);
      // window/level dragged in one plane applies to the other two (the same tissue)
      const voi = synchronizers.createVOISynchronizer(ids.voi, { syncInvertState: false, syncColormap: false });
      for (const viewportId of viewportIds) voi.add({ renderingEngineId: ids.engine, viewportId });
      return () => {
        SynchronizerManager.destroySynchronizer(ids.voi);
        destroyToolGroup(ids.tools);
      };
    },
    [ids, elements],
  );
  const { engine, ready } = useRenderingEngine(ids.engine, setUp, onError);

  const renderingEngine = useCallback(() => engine.current ?? undefined, [engine]);
  const viewport = useCallback((plane: Plane) => engine.current?.getViewport(ids.viewports[plane]) as VolumeViewport | undefined, [engine, ids]);

  /** Zoom, pan, window/level and the slices back as they came. */
  const reset = useCallback(() => {
    for (const plane of PLANES) {
      const view = viewport(plane);
      view?.resetCamera();
      view?.resetProperties();
      view?.render();
    }
  }, [viewport]);

  return { elements, ids, ready, renderingEngine, viewport, reset };
}
