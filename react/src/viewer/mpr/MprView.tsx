// Multiplanar reformat of one series: axial, coronal and sagittal planes through the series as a volume,
// drawn while its slices stream in, with the stack viewer's left-button tool (window/level, pan, zoom),
// optional crosshairs, slices on the wheel and one window/level for the three. A series whose slices are
// not a volume is refused with the reason (volume.ts). Part of the lazily loaded viewer chunk.
import { Enums as CoreEnums } from "@cornerstonejs/core";
import type { VolumeViewport } from "@cornerstonejs/core";
import { Alert, Button, Group, SimpleGrid, Stack, Switch, Text } from "@mantine/core";
import { useEffect, useMemo, useState } from "react";
import type { RefObject } from "react";
import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";

import type { Tool } from "../tools";
import { useMprLeftButton } from "./mprTools";
import { useMprViewports, PLANES } from "./useMprViewports";
import type { Plane } from "./useMprViewports";
import { useMprVolume } from "./useMprVolume";
import type { VolumeProblem } from "./volume";

export interface MprViewProps {
  studyUid: string;
  seriesUid: string;
  /** The stack viewer's left-button tool; those that measure fall back to window/level here. */
  tool?: Tool;
}

const PANE_HEIGHT = 360;

export function MprView({ studyUid, seriesUid, tool = "wl" }: MprViewProps) {
  const { t } = useTranslation();
  const [error, setError] = useState<string | null>(null);
  const [crosshairs, setCrosshairs] = useState(false);
  const { elements, ids, ready, renderingEngine, viewport, reset } = useMprViewports(setError);
  const viewportIds = useMemo(() => PLANES.map((plane) => ids.viewports[plane]), [ids]);
  const { problem, progress, shown } = useMprVolume({ ready, renderingEngine, viewportIds, studyUid, seriesUid, onError: setError });
  useMprLeftButton(ids.tools, ready, tool, crosshairs && shown);

  return (
    <Stack gap="xs" data-testid="mpr-view" data-loaded={progress.loaded} data-total={progress.total}>
      <Group gap="xs">
        <Switch size="xs" label={t("viewer.mpr.crosshairs")} checked={crosshairs} onChange={(event) => setCrosshairs(event.currentTarget.checked)} />
        <Button size="xs" variant="default" onClick={reset}>
          {t("viewer.reset")}
        </Button>
        {!problem && (
          <Text size="xs" c="dimmed" data-testid="mpr-progress">
            {progress.total ? t("viewer.mpr.progress", { loaded: progress.loaded, total: progress.total }) : t("viewer.mpr.reading")}
          </Text>
        )}
      </Group>
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {problem && (
        <Alert color="yellow" role="alert" data-testid="mpr-refusal">
          {t("viewer.mpr.refused", { detail: reason(problem, t) })}
        </Alert>
      )}
      {progress.failed > 0 && (
        <Alert color="red" role="status">
          {t("viewer.mpr.failedFrames", { count: progress.failed })}
        </Alert>
      )}
      {/* the panes stay in the page when refused: the rendering engine is bound to them */}
      <SimpleGrid cols={3} spacing="xs" style={problem ? { display: "none" } : undefined}>
        {PLANES.map((plane) => (
          <MprPane key={plane} plane={plane} element={elements[plane]} viewport={viewport} shown={shown} />
        ))}
      </SimpleGrid>
    </Stack>
  );
}

/** One plane, with its name and "slice / slices" over the image; data-slice for tests and tools outside. */
interface MprPaneProps {
  plane: Plane;
  element: RefObject<HTMLDivElement | null>;
  viewport: (plane: Plane) => VolumeViewport | undefined;
  /** The volume is in the viewport (its slices can be counted). */
  shown: boolean;
}

function MprPane({ plane, element, viewport, shown }: MprPaneProps) {
  const { t } = useTranslation();
  const [slice, setSlice] = useState<{ index: number; count: number } | null>(null);

  useEffect(() => {
    const node = element.current;
    if (!node || !shown) return;
    const view = viewport(plane);
    if (view) setSlice({ index: view.getSliceIndex(), count: view.getNumberOfSlices() });
    const onNewImage = (event: Event) => {
      const { imageIndex, numberOfSlices } = (event as CustomEvent<{ imageIndex: number; numberOfSlices: number }>).detail;
      setSlice({ index: imageIndex, count: numberOfSlices });
    };
    node.addEventListener(CoreEnums.Events.VOLUME_NEW_IMAGE, onNewImage);
    return () => node.removeEventListener(CoreEnums.Events.VOLUME_NEW_IMAGE, onNewImage);
  }, [element, plane, viewport, shown]);

  return (
    <div data-testid={`mpr-${plane}`} data-slice={slice?.index} style={{ position: "relative", height: PANE_HEIGHT, background: "black" }}>
      <div ref={element} onContextMenu={(event) => event.preventDefault()} style={{ position: "absolute", inset: 0 }} />
      <Text size="xs" c="gray.3" style={{ position: "absolute", top: 4, left: 6, pointerEvents: "none" }}>
        {t(`viewer.mpr.${plane}`)}
        {slice && ` ${slice.index + 1} / ${slice.count}`}
      </Text>
    </div>
  );
}

/** Why the series is refused, in the reader's language (gaps to a tenth of a millimetre). */
function reason(problem: VolumeProblem, t: TFunction): string {
  const values = problem.kind === "spacing" ? { ...problem, gap: problem.gap.toFixed(1), expected: problem.expected.toFixed(1) } : problem;
  return t(`viewer.mpr.problems.${problem.kind}`, values);
}
