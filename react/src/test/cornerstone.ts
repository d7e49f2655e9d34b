// Stand-ins for Cornerstone3D (no WebGL in jsdom): what the viewer asks of the rendering engine, the tool
// groups and the segmentation state is recorded for tests to look at. Use with vi.mock factories:
//   vi.mock("@cornerstonejs/core", async () => (await import("../test/cornerstone")).core);
import { vi } from "vitest";

export const MouseBindings = { Primary: 1, Secondary: 2, Auxiliary: 4, Wheel: 524288 } as const;
export const STACK_NEW_IMAGE = "CORNERSTONE_STACK_NEW_IMAGE";
export const VOI_MODIFIED = "CORNERSTONE_VOI_MODIFIED";
export const VOLUME_NEW_IMAGE = "CORNERSTONE_VOLUME_NEW_IMAGE";
export const IMAGE_VOLUME_MODIFIED = "CORNERSTONE_IMAGE_VOLUME_MODIFIED";

export class FakeViewport {
  imageIds: string[] = [];
  index = 0;
  setStack = vi.fn(async (imageIds: string[], index = 0) => {
    this.imageIds = imageIds;
    this.index = index;
  });
  setImageIdIndex = vi.fn(async (index: number) => {
    this.index = index;
  });
  render = vi.fn();
  resetCamera = vi.fn();
  /** The image's own window, as the DICOM header gives it. */
  voiRange = { lower: 0, upper: 100 };
  resetProperties = vi.fn(() => this.setProperties({ voiRange: { lower: 0, upper: 100 } }));
  setProperties = vi.fn(({ voiRange }: { voiRange?: { lower: number; upper: number } }) => {
    if (!voiRange) return;
    this.voiRange = voiRange;
    this.element.dispatchEvent(new CustomEvent(VOI_MODIFIED, { detail: { range: voiRange } }));
  });
  getProperties = () => ({ voiRange: this.voiRange });
  /** The shown image: pixels from 0 to 4000. */
  getCornerstoneImage = () => ({ minPixelValue: 0, maxPixelValue: 4000 });
  /** A volume viewport's slice, and its slice count (set by tests). */
  sliceIndex = 0;
  sliceCount = 1;
  getSliceIndex = () => this.sliceIndex;
  getNumberOfSlices = () => this.sliceCount;
  removeAllActors = vi.fn();
  constructor(
    readonly id: string,
    readonly element: HTMLElement,
    readonly type?: string,
    readonly options?: { orientation?: string },
  ) {}
}

export class FakeRenderingEngine {
  static all: FakeRenderingEngine[] = [];
  viewports = new Map<string, FakeViewport>();
  destroyed = false;
  constructor(readonly id: string) {
    FakeRenderingEngine.all.push(this);
  }
  enableElement({ viewportId, element, type, defaultOptions }: { viewportId: string; element: HTMLElement; type?: string; defaultOptions?: { orientation?: string } }) {
    this.viewports.set(viewportId, new FakeViewport(viewportId, element, type, defaultOptions));
  }
  render = vi.fn();
  getViewport(id: string) {
    return this.viewports.get(id);
  }
  disableElement(viewportId: string) {
    this.viewports.delete(viewportId);
  }
  resize = vi.fn();
  destroy() {
    this.destroyed = true;
  }
  /** The first viewport of the latest engine (the one of a single-pane viewer). */
  static viewport(): FakeViewport {
    return FakeRenderingEngine.viewports()[0];
  }
  /** The latest engine's viewports, in the order their panes were enabled. */
  static viewports(): FakeViewport[] {
    const engine = FakeRenderingEngine.all[FakeRenderingEngine.all.length - 1];
    return engine ? [...engine.viewports.values()] : [];
  }
}

export class FakeToolGroup {
  tools: string[] = [];
  viewports: string[] = [];
  bindings = new Map<string, number[]>();
  constructor(readonly id: string) {}
  addTool(name: string) {
    this.tools.push(name);
  }
  addViewport(viewportId: string) {
    this.viewports.push(viewportId);
  }
  removeViewports(_engineId: string, viewportId: string) {
    this.viewports = this.viewports.filter((id) => id !== viewportId);
  }
  setToolActive(name: string, options: { bindings: { mouseButton: number }[] }) {
    this.bindings.set(name, options.bindings.map((binding) => binding.mouseButton));
  }
  setToolPassive(name: string) {
    this.bindings.delete(name);
  }
  setToolDisabled(name: string) {
    this.bindings.delete(name);
  }
  /** The tool on a mouse button. */
  on(button: number): string | undefined {
    return [...this.bindings].find(([, buttons]) => buttons.includes(button))?.[0];
  }
}

export const toolGroups = new Map<string, FakeToolGroup>();

/** A synchroniser (e.g. the reformat's shared window/level) and the viewports it joins. */
export class FakeSynchronizer {
  viewports: string[] = [];
  constructor(
    readonly id: string,
    readonly kind: string,
  ) {}
  add({ viewportId }: { viewportId: string }) {
    this.viewports.push(viewportId);
  }
}
export const synchronizerState = new Map<string, FakeSynchronizer>();

/** A streaming image volume: its load() callback is kept for the test to call when "every frame arrived". */
export class FakeVolume {
  done: ((event: { framesLoaded: number; totalNumFrames: number }) => void) | null = null;
  load = vi.fn((callback: FakeVolume["done"]) => {
    this.done = callback;
  });
  constructor(
    readonly volumeId: string,
    readonly imageIds: string[],
  ) {}
}
export const volumes = new Map<string, FakeVolume>();
/** Cornerstone's event target (volume progress events go there). */
export const eventTarget = new EventTarget();
export const setVolumesForViewports = vi.fn(async (_engine: unknown, _inputs: { volumeId: string }[], _viewportIds: string[]) => {});

export const segmentationCalls = {
  addSegmentations: vi.fn(),
  addLabelmapRepresentationToViewport: vi.fn(),
  removeSegmentationRepresentations: vi.fn(),
  removeSegmentation: vi.fn(),
  setVisibility: vi.fn(),
  setStyle: vi.fn(),
};

export const createFromDICOMSegBuffer = vi.fn(async (_imageIds: string[], _buffer: ArrayBuffer, _options: unknown) => ({ labelMapImages: [[{ imageId: "seg:1" }]] }));

/** Image <-> world: 0.5 mm pixels, the image in the z = 0 plane (enough to check the conversions are used). */
export const PIXEL_MM = 0.5;

/** The prefetch pool: requests run at once; `loadAndCacheImage` answers at once unless a test holds it. */
export const loadAndCacheImage = vi.fn(async (_imageId: string, _options?: unknown) => ({}));
export const poolRequests: { imageId: string; type: string }[] = [];

export const core = {
  Enums: {
    ViewportType: { STACK: "stack", ORTHOGRAPHIC: "orthographic" },
    OrientationAxis: { AXIAL: "axial", CORONAL: "coronal", SAGITTAL: "sagittal" },
    Events: { STACK_NEW_IMAGE, VOI_MODIFIED, VOLUME_NEW_IMAGE, IMAGE_VOLUME_MODIFIED },
    RequestType: { Interaction: "interaction", Prefetch: "prefetch", Thumbnail: "thumbnail" },
    MetadataModules: { COMPRESSED_FRAME_DATA: "compressedFrameData" },
  },
  metaData: { addProvider: vi.fn() },
  RenderingEngine: FakeRenderingEngine,
  eventTarget,
  setVolumesForViewports,
  volumeLoader: {
    createAndCacheVolume: vi.fn(async (volumeId: string, { imageIds }: { imageIds: string[] }) => {
      const volume = volumes.get(volumeId) ?? new FakeVolume(volumeId, imageIds);
      volumes.set(volumeId, volume);
      return volume;
    }),
  },
  cache: {
    getVolumeLoadObject: (volumeId: string) => (volumes.has(volumeId) ? {} : undefined),
    removeVolumeLoadObject: (volumeId: string) => volumes.delete(volumeId),
  },
  imageLoader: { loadAndCacheImage },
  imageLoadPoolManager: {
    addRequest: (request: () => Promise<unknown>, type: string, details: { imageId: string }) => {
      poolRequests.push({ imageId: details.imageId, type });
      void request();
    },
  },
  utilities: {
    imageToWorldCoords: (_imageId: string, [column, row]: number[]) => [column * PIXEL_MM, row * PIXEL_MM, 0],
    worldToImageCoords: (_imageId: string, [x, y]: number[]) => [x / PIXEL_MM, y / PIXEL_MM],
  },
};

/** Cornerstone's annotation state: what the tools drew and what the viewer added. */
export interface FakeAnnotation {
  annotationUID?: string;
  isLocked?: boolean;
  metadata: { toolName: string; referencedImageId?: string };
  data: { handles: { points: number[][] }; label?: string };
}
export const annotationState = new Map<string, FakeAnnotation>();
export const renderedViewports = vi.fn();
let drawnCount = 0;

export const tools = {
  Enums: { MouseBindings, SegmentationRepresentations: { Labelmap: "Labelmap" } },
  WindowLevelTool: { toolName: "WindowLevel" },
  PanTool: { toolName: "Pan" },
  ZoomTool: { toolName: "Zoom" },
  StackScrollTool: { toolName: "StackScroll" },
  CrosshairsTool: { toolName: "Crosshairs" },
  LengthTool: { toolName: "Length" },
  EllipticalROITool: { toolName: "EllipticalROI" },
  annotation: {
    state: {
      getAllAnnotations: () => [...annotationState.values()],
      getAnnotation: (uid: string) => annotationState.get(uid),
      addAnnotation: (item: FakeAnnotation) => {
        const uid = item.annotationUID ?? `drawn-${++drawnCount}`;
        annotationState.set(uid, { ...item, annotationUID: uid });
      },
      removeAnnotation: (uid: string) => annotationState.delete(uid),
    },
  },
  utilities: { triggerAnnotationRenderForViewportIds: renderedViewports },
  synchronizers: {
    createVOISynchronizer: (id: string) => {
      const synchronizer = new FakeSynchronizer(id, "voi");
      synchronizerState.set(id, synchronizer);
      return synchronizer;
    },
  },
  SynchronizerManager: { destroySynchronizer: (id: string) => synchronizerState.delete(id) },
  ToolGroupManager: {
    createToolGroup: (id: string) => {
      const group = new FakeToolGroup(id);
      toolGroups.set(id, group);
      return group;
    },
    getToolGroup: (id: string) => toolGroups.get(id),
    destroyToolGroup: (id: string) => toolGroups.delete(id),
  },
  segmentation: {
    addSegmentations: segmentationCalls.addSegmentations,
    addLabelmapRepresentationToViewport: segmentationCalls.addLabelmapRepresentationToViewport,
    removeSegmentationRepresentations: segmentationCalls.removeSegmentationRepresentations,
    removeSegmentation: segmentationCalls.removeSegmentation,
    config: { visibility: { setSegmentationRepresentationVisibility: segmentationCalls.setVisibility }, style: { setStyle: segmentationCalls.setStyle } },
  },
};

export const adapters = { adaptersSEG: { Cornerstone3D: { Segmentation: { createFromDICOMSegBuffer } } } };

/** The viewer's own start-up module (viewer/cornerstone.ts). */
export const viewerCornerstone = {
  startCornerstone: vi.fn(async () => {}),
  addInstanceMetadata: vi.fn(),
  metaData: { get: () => undefined },
};

export function resetCornerstone() {
  FakeRenderingEngine.all = [];
  annotationState.clear();
  renderedViewports.mockClear();
  toolGroups.clear();
  synchronizerState.clear();
  volumes.clear();
  setVolumesForViewports.mockClear();
  for (const call of Object.values(segmentationCalls)) call.mockClear();
  createFromDICOMSegBuffer.mockClear();
  loadAndCacheImage.mockReset().mockImplementation(async () => ({}));
  poolRequests.length = 0;
  viewerCornerstone.addInstanceMetadata.mockClear();
}
