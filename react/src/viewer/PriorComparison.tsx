// The current study beside a prior of the same patient (1x2): the same sequence type in both, scrolling
// either moves the other to the slice at the same position (plus an offset "link here" sets), and each
// pane offers its own study's AI segmentation. Loaded lazily like the study viewer (ViewerLoader.tsx).
import { Button, Card, Group, SegmentedControl, SimpleGrid, Stack, Switch, Text, Tooltip } from "@mantine/core";
import { useCallback, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import type { Series, StudyDetail } from "../api/types";
import { ComparePane, seriesOfType } from "./ComparePane";
import { initialOffset } from "./priorRegistration";
import type { StackGeometry } from "./priorRegistration";

/** The sequence types a brain-tumour exam is compared by (the API's series.sequence_type), in reading order. */
const SEQUENCES = [
  { value: "T1", label: "T1" },
  { value: "T1c", label: "T1C" },
  { value: "T2", label: "T2" },
  { value: "FLAIR", label: "FLAIR" },
];

/** The sequence types both studies have. */
export function commonSequences(current: Series[], prior: Series[]): string[] {
  return SEQUENCES.map((item) => item.value).filter((type) => seriesOfType(current, type) && seriesOfType(prior, type));
}

type Side = "current" | "prior";
type Follow = { position: number } | null;

export interface PriorComparisonProps {
  current: StudyDetail;
  prior: StudyDetail;
}

export default function PriorComparison({ current, prior }: PriorComparisonProps) {
  const { t } = useTranslation();
  const common = commonSequences(current.series, prior.series);
  // the T1 first: the demo model's SEG was drawn on it, so the AI overlays show at once
  const [sequence, setSequence] = useState<string | null>(common.includes("T1") ? "T1" : (common[0] ?? null));
  const [geometry, setGeometry] = useState<Partial<Record<Side, StackGeometry>>>({});
  const [offset, setOffset] = useState<number | null>(null);
  const [follow, setFollow] = useState<Record<Side, Follow>>({ current: null, prior: null });
  const shown = useRef<Partial<Record<Side, number>>>({});
  const [linked, setLinked] = useState(true);
  // what the scroll handlers read: the offset while scrolling together, null while each pane scrolls alone
  const offsetNow = useRef<number | null>(null);
  offsetNow.current = linked ? offset : null;

  // Once both stacks are there: where registration starts, and the prior brought to the current slice.
  useEffect(() => {
    if (!geometry.current || !geometry.prior || offset !== null) return;
    const start = initialOffset(geometry.current, geometry.prior);
    setOffset(start);
    const at = shown.current.current;
    if (at !== undefined) setFollow((was) => ({ ...was, prior: { position: at + start } }));
  }, [geometry, offset]);

  const onCurrentGeometry = useCallback((value: StackGeometry) => setGeometry((was) => ({ ...was, current: value })), []);
  const onPriorGeometry = useCallback((value: StackGeometry) => setGeometry((was) => ({ ...was, prior: value })), []);
  const onCurrentSlice = useCallback((position: number, byReader: boolean) => {
    shown.current.current = position;
    if (byReader && offsetNow.current !== null) setFollow((was) => ({ ...was, prior: { position: position + offsetNow.current! } }));
  }, []);
  const onPriorSlice = useCallback((position: number, byReader: boolean) => {
    shown.current.prior = position;
    if (byReader && offsetNow.current !== null) setFollow((was) => ({ ...was, current: { position: position - offsetNow.current! } }));
  }, []);
  const linkHere = () => {
    const { current: here, prior: there } = shown.current;
    if (here === undefined || there === undefined) return;
    setOffset(there - here);
    setLinked(true);
  };

  return (
    <Card withBorder data-testid="prior-comparison">
      <Stack gap="xs">
        <Group gap="md">
          <SegmentedControl
            size="xs"
            data={SEQUENCES.filter((item) => common.includes(item.value))}
            value={sequence ?? ""}
            onChange={setSequence}
            disabled={!common.length}
          />
          <Switch size="sm" label={t("viewer.scrollTogether")} checked={linked} onChange={(event) => setLinked(event.currentTarget.checked)} />
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
        <SimpleGrid cols={2}>
          <ComparePane study={current} label={t("viewer.currentPane", { date: current.study_date })} sequence={sequence} follow={follow.current} onGeometry={onCurrentGeometry} onSlice={onCurrentSlice} />
          <ComparePane study={prior} label={t("viewer.priorPane", { date: prior.study_date })} sequence={sequence} follow={follow.prior} onGeometry={onPriorGeometry} onSlice={onPriorSlice} />
        </SimpleGrid>
      </Stack>
    </Card>
  );
}
