// The patient's tumour course: lesion volume per label against study date (signed segmentations only),
// change from baseline and nadir, and the volumetric response category, an aid and not a RANO assessment
// (docs/ai.md, "Tumour course").
import { Alert, Badge, Card, Stack, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";

import { useTumourCourse } from "../../api/ai";
import type { CourseRow, TumourCourse } from "../../api/ai";
import { DatedLineChart } from "../../components/charts";
import { DataTable, NOWRAP } from "../../components/DataTable";
import { QueryState } from "../../components/QueryState";

const CATEGORY_COLOURS: Record<string, string> = { CR: "teal", PR: "green", SD: "gray", PD: "red", NE: "yellow", baseline: "blue" };

/** mL with two decimals (the ai-server measures to 0.001 mL; two are what a reader compares). */
export function formatMl(value: number) {
  return value.toFixed(2);
}

/** A signed percentage with one decimal, or a dash where there is none (the baseline, a nadir of 0). */
export function formatPercent(value: number | null | undefined) {
  if (value === null || value === undefined) return "–";
  return `${value > 0 ? "+" : ""}${value.toFixed(1)} %`;
}

type Row = CourseRow & { label: string };

export function CourseView({ course }: { course: TumourCourse }) {
  const { t } = useTranslation();
  const labels = Object.keys(course.labels);
  if (!labels.length) return <Text c="dimmed">{t("course.none")}</Text>;
  const rows: Row[] = labels.flatMap((label) => course.labels[label].map((row) => ({ ...row, label })));
  const series = labels.map((label) => ({ name: label, points: course.labels[label].map((row) => ({ date: row.study_date, value: row.volume_ml })) }));
  return (
    <Stack gap="xs">
      <Alert color="yellow" variant="light" data-testid="course-aid">
        {t("course.aid")}
      </Alert>
      <DatedLineChart series={series} xLabel={t("course.studyDate")} yLabel={t("course.volumeAxis")} />
      <DataTable
        fz="sm"
        columns={[
          { key: "label", header: "ai.label", cell: (row: Row) => row.label },
          { key: "date", header: "course.studyDate", cell: (row: Row) => row.study_date, style: NOWRAP },
          { key: "volume", header: "course.volumeAxis", cell: (row: Row) => formatMl(row.volume_ml), style: NOWRAP },
          { key: "baseline", header: "course.fromBaseline", cell: (row: Row) => formatPercent(row.change_from_baseline_percent), style: NOWRAP },
          { key: "nadir", header: "course.fromNadir", cell: (row: Row) => formatPercent(row.change_from_nadir_percent), style: NOWRAP },
          {
            key: "category",
            header: "course.category",
            cell: (row: Row) => (
              <Badge variant="light" color={CATEGORY_COLOURS[row.category] ?? "gray"}>
                {t(`course.categories.${row.category}`, { defaultValue: row.category })}
              </Badge>
            ),
          },
        ]}
        rows={rows}
        rowKey={(row) => `${row.label}-${row.study_id}`}
      />
      <Text size="xs" c="dimmed">
        {t("course.thresholds", {
          decrease: course.thresholds.partial_response_decrease_percent,
          increase: course.thresholds.progression_increase_percent,
          days: course.thresholds.complete_response_confirmation_days,
        })}{" "}
        {course.source}
      </Text>
      {course.undated_study_ids.length > 0 && (
        <Text size="xs" c="dimmed">
          {t("course.undated", { count: course.undated_study_ids.length })}
        </Text>
      )}
    </Stack>
  );
}

export function TumourCourseSection({ puuid }: { puuid: string }) {
  const { t } = useTranslation();
  const course = useTumourCourse(puuid);
  return (
    <Card withBorder data-testid="tumour-course">
      <Title order={5} mb="xs">
        {t("course.title")}
      </Title>
      <QueryState query={course}>{(data) => <CourseView course={data} />}</QueryState>
    </Card>
  );
}
