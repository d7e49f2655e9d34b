// The study viewer: Cornerstone3D stack viewport over the CDSS DICOMweb gateway, with series thumbnails,
// wheel and slider scrolling, window/level, zoom, pan and a DICOM SEG labelmap overlay. Loaded lazily
// (see ViewerLoader.tsx) so the first page load does not carry Cornerstone, its codecs or its workers.
import { Alert, Card, Group, Stack } from "@mantine/core";
import { Enums as CoreEnums, RenderingEngine } from "@cornerstonejs/core";
import type { StackViewport } from "@cornerstonejs/core";
import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import type { Series } from "../api/types";
import { addInstanceMetadata, startCornerstone } from "./cornerstone";
import { TAG, imageIdsFor, qidoInstances, qidoSeries, retrieveInstance, seriesMetadata, sortInstances, value } from "./dicomweb";
import type { SeriesSummary } from "./dicomweb";
import { addLabelmap, labelmapImageIds, referencedSeries, removeLabelmap, styleLabelmap } from "./seg";
import { destroyToolGroup, setUpToolGroup, useLeftButtonTool } from "./tools";
import type { Tool } from "./tools";
import { OverlayControls } from "./OverlayControls";
import type { OverlayState } from "./OverlayControls";
import { SeriesList } from "./SeriesList";
import { SliceSlider } from "./SliceSlider";
import { ViewerToolbar } from "./ViewerToolbar";

export interface OverlaySource {
  key: string;
  label: string;
  load: () => Promise<ArrayBuffer>;
}

export interface StudyViewerProps {
  studyId: number;
  studyUid: string;
  /** The API's series (for thumbnails by primary key). */
  series: Series[];
  /** Extra overlays, e.g. the SEG artifact of an AI result; the study's own SEG series are found by QIDO. */
  overlays?: OverlaySource[];
  /** Which overlay to show at first (its key). */
  initialOverlay?: string;
}

const NON_IMAGE = new Set(["SEG", "SR", "PR", "KO", "RTSTRUCT", "DOC"]);
let counter = 0;

const NO_OVERLAYS: OverlaySource[] = [];

export default function StudyViewer({ studyId, studyUid, series, overlays = NO_OVERLAYS, initialOverlay }: StudyViewerProps) {
  const { t } = useTranslation();
  const element = useRef<HTMLDivElement>(null);
  const ids = useMemo(() => {
    counter += 1;
    return { engine: `cdss-engine-${counter}`, viewport: `cdss-viewport-${counter}`, tools: `cdss-tools-${counter}` };
  }, []);
  const engine = useRef<RenderingEngine | null>(null);
  const [ready, setReady] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [seriesList, setSeriesList] = useState<SeriesSummary[] | null>(null);
  const [current, setCurrent] = useState<string | null>(null);
  const [imageIds, setImageIds] = useState<string[]>([]);
  const [loading, setLoading] = useState(false);
  const [index, setIndex] = useState(0);
  const [tool, setTool] = useState<Tool>("wl");
  const [overlayKey, setOverlayKey] = useState<string | null>(initialOverlay ?? null);
  const [segBuffer, setSegBuffer] = useState<ArrayBuffer | null>(null);
  const [segState, setSegState] = useState<OverlayState>("none");
  const [segError, setSegError] = useState<string | null>(null);
  const [segVisible, setSegVisible] = useState(true);
  const [segOpacity, setSegOpacity] = useState(0.5);
  const segmentationId = useRef<string | null>(null);

  const imageSeries = (seriesList ?? []).filter((item) => !NON_IMAGE.has(item.modality));
  const segSeries = (seriesList ?? []).filter((item) => item.modality === "SEG");
  const overlayChoices: OverlaySource[] = useMemo(
    () => [
      ...overlays,
      ...segSeries.map((item) => ({
        key: `series:${item.uid}`,
        label: t("viewer.segSeries", { description: item.description || item.uid.slice(-12) }),
        load: async () => {
          const instances = await qidoInstances(studyUid, item.uid);
          const sop = value(instances[0] ?? {}, TAG.SOPInstanceUID);
          if (!sop) throw new Error(t("viewer.segEmpty"));
          return retrieveInstance(studyUid, item.uid, sop);
        },
      })),
    ],
    [overlays, seriesList, studyUid, t],
  );

  // 1. start Cornerstone, the rendering engine, the viewport and its tools
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
      .catch((caught: unknown) => setError(String(caught)));
    return () => {
      cancelled = true;
      destroyToolGroup(ids.tools);
      engine.current?.destroy();
      engine.current = null;
    };
  }, [ids]);

  // 2. the study's series by QIDO; the first image series is shown
  useEffect(() => {
    let cancelled = false;
    qidoSeries(studyUid)
      .then((list) => {
        if (cancelled) return;
        setSeriesList(list);
        setCurrent((previous) => previous ?? list.find((item) => !NON_IMAGE.has(item.modality))?.uid ?? null);
      })
      .catch((caught: unknown) => !cancelled && setError(t("viewer.loadFailed", { detail: String(caught) })));
    return () => {
      cancelled = true;
    };
  }, [studyUid, t]);

  // 3. the chosen series: metadata by WADO-RS, one wadors image id per frame, into the stack viewport
  useEffect(() => {
    if (!ready || !current) return;
    let cancelled = false;
    setLoading(true);
    (async () => {
      const instances = sortInstances(await seriesMetadata(studyUid, current));
      const frames = imageIdsFor(studyUid, current, instances);
      addInstanceMetadata(frames, instances);
      if (cancelled) return;
      const viewport = engine.current?.getViewport(ids.viewport) as StackViewport | undefined;
      if (!viewport) return;
      const middle = Math.floor(frames.length / 2);
      await viewport.setStack(frames, middle);
      viewport.render();
      if (cancelled) return;
      setImageIds(frames);
      setIndex(middle);
    })()
      .catch((caught: unknown) => !cancelled && setError(t("viewer.loadFailed", { detail: String(caught) })))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, [ready, current, studyUid, ids, t]);

  // keep the slider in step with wheel scrolling
  useEffect(() => {
    const node = element.current;
    if (!node) return;
    const onNewImage = (event: Event) => setIndex((event as CustomEvent<{ imageIdIndex: number }>).detail.imageIdIndex);
    node.addEventListener(CoreEnums.Events.STACK_NEW_IMAGE, onNewImage);
    return () => node.removeEventListener(CoreEnums.Events.STACK_NEW_IMAGE, onNewImage);
  }, []);

  // left mouse button tool
  useLeftButtonTool(ids.tools, ready, tool);

  // 4. the chosen overlay's bytes (fetched once per choice, whatever re-renders); then the series it was drawn on
  const choices = useRef(overlayChoices);
  choices.current = overlayChoices;
  const imageSeriesRef = useRef(imageSeries);
  imageSeriesRef.current = imageSeries;
  const currentRef = useRef(current);
  currentRef.current = current;
  const overlayAvailable = overlayChoices.some((choice) => choice.key === overlayKey);
  useEffect(() => {
    const source = choices.current.find((choice) => choice.key === overlayKey);
    if (!source) {
      setSegBuffer(null);
      setSegState("none");
      return;
    }
    let cancelled = false;
    setSegState("loading");
    setSegError(null);
    source
      .load()
      .then((buffer) => {
        if (cancelled) return;
        const referenced = referencedSeries(buffer);
        if (referenced && referenced !== currentRef.current && imageSeriesRef.current.some((item) => item.uid === referenced)) setCurrent(referenced);
        setSegBuffer(buffer);
      })
      .catch((caught: unknown) => {
        if (cancelled) return;
        setSegState("error");
        setSegError(String(caught));
      });
    return () => {
      cancelled = true;
    };
  }, [overlayKey, overlayAvailable]);

  // 5. the SEG as a labelmap on the shown stack
  useEffect(() => {
    if (!segBuffer || !imageIds.length || loading) return;
    let cancelled = false;
    const id = `seg-${ids.viewport}-${Date.now()}`;
    (async () => {
      const labelmapIds = await labelmapImageIds(imageIds, segBuffer);
      if (cancelled) return;
      addLabelmap(ids.viewport, id, labelmapIds);
      segmentationId.current = id;
      setSegState("shown");
    })().catch((caught: unknown) => {
      if (cancelled) return;
      setSegState("error");
      setSegError(String(caught));
    });
    return () => {
      cancelled = true;
      if (segmentationId.current === id) {
        removeLabelmap(ids.viewport, id);
        segmentationId.current = null;
      }
    };
  }, [segBuffer, imageIds, loading, ids]);

  // toggle and opacity
  useEffect(() => {
    const id = segmentationId.current;
    if (!id || segState !== "shown") return;
    styleLabelmap(ids.viewport, id, segVisible, segOpacity);
    engine.current?.getViewport(ids.viewport)?.render();
  }, [segVisible, segOpacity, segState, ids]);

  function scrollTo(next: number) {
    const viewport = engine.current?.getViewport(ids.viewport) as StackViewport | undefined;
    setIndex(next);
    void viewport?.setImageIdIndex(next);
  }

  function reset() {
    const viewport = engine.current?.getViewport(ids.viewport) as StackViewport | undefined;
    viewport?.resetCamera();
    viewport?.resetProperties();
    viewport?.render();
  }

  return (
    <Card withBorder data-testid="study-viewer">
      <Group align="flex-start" wrap="nowrap">
        <SeriesList studyId={studyId} apiSeries={series} items={seriesList === null ? null : imageSeries} current={current} onSelect={setCurrent} />
        <Stack style={{ flex: 1 }} gap="xs">
          {error && (
            <Alert color="red" role="alert">
              {error}
            </Alert>
          )}
          <ViewerToolbar tool={tool} onToolChange={setTool} onReset={reset} loading={loading} />
          <div
            ref={element}
            onContextMenu={(event) => event.preventDefault()}
            style={{ width: "100%", height: 480, background: "black", position: "relative" }}
            data-testid="viewport"
          />
          <SliceSlider index={index} count={imageIds.length} onChange={scrollTo} />
          <OverlayControls
            choices={overlayChoices}
            value={overlayKey}
            onChange={setOverlayKey}
            state={segState}
            error={segError}
            visible={segVisible}
            onVisibleChange={setSegVisible}
            opacity={segOpacity}
            onOpacityChange={setSegOpacity}
          />
        </Stack>
      </Group>
    </Card>
  );
}
