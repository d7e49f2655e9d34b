// The current study beside a prior of the same patient, 1x2 on the viewer's pane grid (useViewportGrid,
// ViewerPane, usePaneSync): the same sequence type in both (sequences.ts), scrolling synchronised by slice
// position with the prior's offset (registration.ts; "link here" sets it), and each pane with its own
// study's AI overlay. Loaded lazily like the study viewer (ViewerLoader.tsx).
import { Alert, Button, Card, Group, SegmentedControl, SimpleGrid, Stack, Switch, Text, Tooltip } from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import type { Series, StudyDetail } from "../api/types";
import { AI_OVERLAY_KEY, useStudyAiOverlays } from "./aiOverlay";
import { metaData } from "./cornerstone";
import { NON_IMAGE } from "./layout";
import type { PaneSpec } from "./layout";
import { PaneOverlay } from "./PaneOverlay";
import { linkOffset, startingOffset } from "./registration";
import { SEQUENCE_ORDER, guessSequence } from "./sequences";
import type { Sequence } from "./sequences";
import { usePaneSync } from "./usePaneSync";
import { useViewportGrid } from "./useViewportGrid";
import { ViewerPane, usePaneReports } from "./ViewerPane";

const CURRENT = 0;
const PRIOR = 1;
const PANE_HEIGHT = 420;
const IGNORE = () => {};

/** The study's image series of `sequence` (null: any), the one with the most images. */
export function seriesOfType(series: Series[], sequence: Sequence | null): Series | undefined {
  return series
    .filter((item) => !NON_IMAGE.has(item.modality) && (sequence === null || guessSequence(item.description) === sequence))
    .sort((a, b) => b.number_of_instances - a.number_of_instances || (a.series_number ?? 0) - (b.series_number ?? 0))[0];
}

/** The sequence types both studies have, in the brain-tumour layout's order. */
export function commonSequences(current: Series[], prior: Series[]): Sequence[] {
  return SEQUENCE_ORDER.filter((type) => seriesOfType(current, type) && seriesOfType(prior, type));
}

function paneSpec(study: StudyDetail, sequence: Sequence | null, label: string, offsetMm: number): PaneSpec | null {
  const series = seriesOfType(study.series, sequence);
  if (!series) return null;
  return {
    key: `${study.study_instance_uid}/${series.series_instance_uid}`,
    studyUid: study.study_instance_uid,
    seriesUid: series.series_instance_uid,
    label: `${label} · ${series.description || series.series_instance_uid}`,
    modality: series.modality,
    sequence: guessSequence(series.description),
    offsetMm,
  };
}

function frameOfReference(imageId: string | undefined): string | undefined {
  const plane = imageId ? (metaData.get("imagePlaneModule", imageId) as { frameOfReferenceUID?: string } | undefined) : undefined;
  return plane?.frameOfReferenceUID;
}

export interface PriorComparisonProps {
  current: StudyDetail;
  prior: StudyDetail;
}

export default function PriorComparison({ current, prior }: PriorComparisonProps) {
  const { t } = useTranslation();
  const [error, setError] = useState<string | null>(null);
  const grid = useViewportGrid(setError);
  const [syncOn, setSyncOn] = useState(true);
  const sync = usePaneSync(syncOn);
  const common = commonSequences(current.series, prior.series);
  // the T1 first: the demo model's SEG was drawn on it, so both AI overlays show on their own images
  const [sequence, setSequence] = useState<Sequence | null>(common.includes("T1") ? "T1" : (common[0] ?? null));
  const [offset, setOffset] = useState<number | null>(null);
  const [active, setActive] = useState(CURRENT);
  const { reports, onReport } = usePaneReports();
  const overlays = [useStudyAiOverlays(current.id), useStudyAiOverlays(prior.id)];
  const studies = [current, prior];
  const specs = [
    paneSpec(current, sequence, t("viewer.currentPane", { date: current.study_date }), 0),
    paneSpec(prior, sequence, t("viewer.priorPane", { date: prior.study_date }), offset ?? 0),
  ];

  // Both stacks there: where registration starts.
  useEffect(() => {
    const here = sync.handle(CURRENT)?.geometry;
    const there = sync.handle(PRIOR)?.geometry;
    if (offset !== null || !here || !there) return;
    const frame = frameOfReference(reports[CURRENT]?.imageIds[0]);
    setOffset(startingOffset(here, there, !!frame && frame === frameOfReference(reports[PRIOR]?.imageIds[0])));
  }, [reports, offset, sync]);
  // A new registration (its start, link here, scrolling together again): the prior goes to the current slice.
  useEffect(() => {
    if (offset === null || !syncOn) return;
    sync.drive(CURRENT);
    sync.changed(CURRENT);
  }, [offset, syncOn, sync]);

  const linkHere = () => {
    const here = sync.handle(CURRENT);
    const there = sync.handle(PRIOR);
    const next = here && there ? linkOffset(here, there) : null;
    if (next === null) return;
    setOffset(next);
    setSyncOn(true);
  };

  return (
    <Card withBorder data-testid="prior-comparison">
      <Stack gap="xs">
        <Group gap="md">
          <SegmentedControl
            size="xs"
            data={SEQUENCE_ORDER.filter((type) => common.includes(type))}
            value={sequence ?? ""}
            onChange={(value) => setSequence(value as Sequence)}
            disabled={!common.length}
            aria-label={t("viewer.sequence")}
          />
          <Switch size="sm" label={t("viewer.syncScroll")} checked={syncOn} onChange={(event) => setSyncOn(event.currentTarget.checked)} />
          <Tooltip label={t("viewer.linkHereHelp")}>
            <Button size="xs" variant="default" onClick={linkHere} disabled={offset === null}>
              {t("viewer.linkHere")}
            </Button>
          </Tooltip>
          {offset !== null && (
            <Text size="xs" c="dimmed" data-testid="offset">
              {t("viewer.offset", { mm: offset.toFixed(1) })}
            </Text>
          )}
        </Group>
        {error && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
        <SimpleGrid cols={2} spacing={4}>
          {specs.map((spec, slot) => (
            <Stack key={slot} gap={4} data-testid="compare-pane">
              {!spec && <Alert color="orange">{t("viewer.noSeriesOfType", { sequence })}</Alert>}
              <ViewerPane
                slot={slot}
                spec={spec}
                grid={grid}
                sync={sync}
                single={false}
                active={slot === active}
                height={PANE_HEIGHT}
                onActivate={setActive}
                onReport={onReport}
                onShown={IGNORE}
                onError={setError}
              />
              <PaneOverlay
                grid={grid}
                slot={slot}
                studyUid={studies[slot].study_instance_uid}
                seriesUid={spec?.seriesUid ?? null}
                report={reports[slot]}
                overlays={overlays[slot]}
                initialKey={AI_OVERLAY_KEY}
              />
            </Stack>
          ))}
        </SimpleGrid>
      </Stack>
    </Card>
  );
}
