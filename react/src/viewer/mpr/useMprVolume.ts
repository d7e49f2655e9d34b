// The series as one streaming volume in the reformat's viewports: its metadata by WADO-RS, refused with the
// reason when its slices are not a volume, else one wadors image id per slice in anatomical order, the volume
// put in the three viewports at once and its slices drawn as they arrive. The count of frames arrived is
// kept for the progress text; the volume leaves Cornerstone's cache with the series or the view.
import { Enums as CoreEnums, cache, eventTarget, setVolumesForViewports, volumeLoader } from "@cornerstonejs/core";
import type { RenderingEngine, StreamingImageVolume, VolumeViewport } from "@cornerstonejs/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { addInstanceMetadata } from "../cornerstone";
import { imageIdsFor, seriesMetadata, sortInstances } from "../dicomweb";
import { volumeIdFor, volumeProblem } from "./volume";
import type { VolumeProblem } from "./volume";

export interface MprVolumeOptions {
  ready: boolean;
  renderingEngine: () => RenderingEngine | undefined;
  viewportIds: string[];
  studyUid: string;
  seriesUid: string;
  onError: (message: string) => void;
}

export interface MprProgress {
  /** Frames in the volume so far, and of how many (0 until the series is read). */
  loaded: number;
  total: number;
  /** Frames that could not be loaded, known once every frame was tried. */
  failed: number;
}

interface LoadDone {
  framesLoaded: number;
  totalNumFrames: number;
}

const NOTHING: MprProgress = { loaded: 0, total: 0, failed: 0 };

export function useMprVolume({ ready, renderingEngine, viewportIds, studyUid, seriesUid, onError }: MprVolumeOptions) {
  const { t } = useTranslation();
  const [problem, setProblem] = useState<VolumeProblem | null>(null);
  const [progress, setProgress] = useState<MprProgress>(NOTHING);
  /** The volume is in the viewports (crosshairs may start). */
  const [shown, setShown] = useState(false);

  useEffect(() => {
    if (!ready) return;
    let cancelled = false;
    const volumeId = volumeIdFor(seriesUid);
    setProblem(null);
    setProgress(NOTHING);
    setShown(false);
    const onModified = (event: Event) => {
      const { detail } = event as CustomEvent<{ volumeId: string; framesProcessed: number }>;
      if (detail.volumeId === volumeId) setProgress((now) => ({ ...now, loaded: Math.max(now.loaded, detail.framesProcessed) }));
    };
    eventTarget.addEventListener(CoreEnums.Events.IMAGE_VOLUME_MODIFIED, onModified);
    const release = () => {
      eventTarget.removeEventListener(CoreEnums.Events.IMAGE_VOLUME_MODIFIED, onModified);
      // out of the viewports first: a render must not reach a volume already let go
      for (const viewportId of viewportIds) renderingEngine()?.getViewport<VolumeViewport | undefined>(viewportId)?.removeAllActors();
      if (cache.getVolumeLoadObject(volumeId)) cache.removeVolumeLoadObject(volumeId); // stops its loading too
    };

    (async () => {
      const instances = sortInstances(await seriesMetadata(studyUid, seriesUid));
      if (cancelled) return;
      const found = volumeProblem(instances);
      if (found) {
        setProblem(found);
        return;
      }
      const imageIds = imageIdsFor(studyUid, seriesUid, instances);
      addInstanceMetadata(imageIds, instances);
      setProgress({ ...NOTHING, total: imageIds.length });
      const volume = (await volumeLoader.createAndCacheVolume(volumeId, { imageIds })) as StreamingImageVolume;
      const engine = renderingEngine();
      if (cancelled || !engine) return;
      await setVolumesForViewports(engine, [{ volumeId }], viewportIds);
      if (cancelled) return;
      setShown(true);
      volume.load((done: unknown) => {
        const { framesLoaded, totalNumFrames } = done as LoadDone;
        if (!cancelled) setProgress({ loaded: framesLoaded, total: totalNumFrames, failed: totalNumFrames - framesLoaded });
      });
      engine.render();
    })().catch((caught: unknown) => !cancelled && onError(t("viewer.loadFailed", { detail: String(caught) })));
    return () => {
      cancelled = true;
      release();
    };
  }, [ready, renderingEngine, viewportIds, studyUid, seriesUid, t, onError]);

  return { problem, progress, shown };
}
