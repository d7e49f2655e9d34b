// Cornerstone3D, started once per page load. Only the lazily loaded viewer chunk imports this file.
import {
  Enums,
  cornerstoneStreamingImageVolumeLoader,
  imageLoadPoolManager,
  imageLoader,
  init as coreInit,
  metaData,
  volumeLoader,
} from "@cornerstonejs/core";
import type { Types } from "@cornerstonejs/core";
import dicomImageLoader from "@cornerstonejs/dicom-image-loader";
import {
  CrosshairsTool,
  EllipticalROITool,
  LengthTool,
  PanTool,
  StackScrollTool,
  WindowLevelTool,
  ZoomTool,
  addTool,
  init as toolsInit,
} from "@cornerstonejs/tools";

import { withRetry } from "./dicomweb";
import { addFrameProvider } from "./seriesRetrieve";

let started: Promise<void> | null = null;

export function startCornerstone(): Promise<void> {
  started ??= (async () => {
    // one WebGL context per rendering engine (Cornerstone's default makes seven, up front): the panes take turns
    // in it, as the reformat's three viewports do in theirs. Measured without a GPU: the study viewer's engine
    // came up in ~20 ms rather than 230-320 ms, before the panes could ask for their series, and its first
    // image ~0.4 s sooner; and a page holding the panes, a reformat and a comparison stays well under the
    // browser's 16 live contexts (seven each would pass it, and the browser drops the oldest).
    coreInit({ rendering: { webGlContextCount: 1 } } as Parameters<typeof coreInit>[0]); // merged into its defaults
    // decoding workers: at least two, so that one frame decodes while another is handed over (a four-pane
    // exam is hundreds of frames), at most four
    dicomImageLoader.init({ maxWebWorkers: Math.max(2, Math.min(4, (navigator.hardwareConcurrency ?? 2) - 1)) });
    // Frames go through nginx straight to Orthanc (HTTP/2, 1000 r/s burst 2000 per client): six shown-first
    // requests (each pane's first image, the slices scrolled to) and twelve background ones (the rest of each
    // series, progressive loading) in flight; the interaction pool is served first. 429s are retried.
    imageLoadPoolManager.setMaxSimultaneousRequests(Enums.RequestType.Interaction, 6);
    imageLoadPoolManager.setMaxSimultaneousRequests(Enums.RequestType.Prefetch, 12);
    imageLoadPoolManager.setMaxSimultaneousRequests(Enums.RequestType.Thumbnail, 1);
    addFrameProvider(); // frames that came with their series' retrieval are decoded without a request of their own
    const wadors = dicomImageLoader.wadors.loadImage;
    imageLoader.registerImageLoader("wadors", (imageId: string, options?: Record<string, unknown>) => ({
      promise: withRetry(() => wadors(imageId, options as never).promise),
    }));
    // the multiplanar reformat's volumes stream their slices in through the same wadors loader (the
    // loader's options are typed narrower than the registry's, hence the cast)
    volumeLoader.registerVolumeLoader("cornerstoneStreamingImageVolume", cornerstoneStreamingImageVolumeLoader as unknown as Types.VolumeLoaderFn);
    toolsInit();
    for (const tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool, EllipticalROITool, CrosshairsTool]) addTool(tool);
  })();
  return started;
}

export function addInstanceMetadata(imageIds: string[], instances: Record<string, unknown>[]): void {
  // one metadata record per frame image id (a multi-frame instance repeats its record)
  let index = 0;
  for (const instance of instances) {
    const frames = Number((instance["00280008"] as { Value?: unknown[] } | undefined)?.Value?.[0] ?? 1) || 1;
    for (let frame = 0; frame < frames && index < imageIds.length; frame++, index++) {
      dicomImageLoader.wadors.metaDataManager.add(imageIds[index], instance as never);
    }
  }
}

export { metaData };
