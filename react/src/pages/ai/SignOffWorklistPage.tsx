import { Badge, Stack, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { useSignOffWorklist } from "../../api/ai";
import type { WorklistItem } from "../../api/ai";
import { DataTable, NOWRAP } from "../../components/DataTable";
import type { Column } from "../../components/DataTable";
import { PagedList } from "../../components/PagedList";
import { StatusBadge } from "../../components/StatusBadge";

type T = (key: string, options?: Record<string, unknown>) => string;

/** How long a result has waited, in the largest sensible unit: "45 min", "3 h 20 min", "2 d 4 h". */
export function formatAge(seconds: number, t: T): string {
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return t("signOff.ageMinutes", { minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return t("signOff.ageHours", { hours, minutes: minutes % 60 });
  return t("signOff.ageDays", { days: Math.floor(hours / 24), hours: hours % 24 });
}

/** A result that needs two readers: "awaiting second read" with the first reader, or "two readers". */
function Reads({ row }: { row: WorklistItem }) {
  const { t } = useTranslation();
  if (row.awaiting_second_read) {
    return (
      <Stack gap={2} data-testid="awaiting-second-read">
        <Badge color="orange" variant="light">
          {t("signOff.awaitingSecondRead")}
        </Badge>
        <Text size="xs">{t("signOff.firstReadBy", { user: row.first_reader })}</Text>
      </Stack>
    );
  }
  if (row.second_reader_required) {
    return (
      <Badge color="grape" variant="light">
        {t("signOff.twoReaders")}
      </Badge>
    );
  }
  return "—";
}

/** Results awaiting a radiologist's sign-off, as the API orders them (most urgent order, then oldest);
 * each row opens the result page, where the viewer sits beside approve/reject. */
export function SignOffWorklistPage() {
  const { t } = useTranslation();
  const [page, setPage] = useState(1);
  const worklist = useSignOffWorklist(page);
  const columns: Column<WorklistItem>[] = [
    { key: "priority", header: "signOff.priority", cell: (row) => <StatusBadge value={row.priority} />, style: NOWRAP },
    { key: "age", header: "signOff.age", cell: (row) => formatAge(row.age_seconds, t), style: NOWRAP },
    {
      key: "patient",
      header: "signOff.patient",
      link: (row) => `/ai/jobs/${row.job_id}`,
      cell: (row) => `${row.patient_name || row.patient} (${row.mrn})`,
    },
    { key: "task", header: "ai.task", cell: (row) => t(`ai.tasks.${row.task}`, { defaultValue: row.task }) },
    { key: "model", header: "ai.model", cell: (row) => `${row.model_name} ${row.model_version}` },
    { key: "summary", header: "signOff.summary", cell: (row) => row.summary || "—" },
    { key: "reads", header: "signOff.reads", cell: (row) => <Reads row={row} />, style: NOWRAP },
    { key: "accession", header: "signOff.accession", cell: (row) => row.accession_number ?? "—" },
  ];
  return (
    <Stack>
      <Title order={3}>{t("signOff.title")}</Title>
      <Text size="sm" c="dimmed">
        {t("signOff.intro")}
      </Text>
      <PagedList query={worklist} page={page} onPageChange={setPage} countLabel="signOff.count">
        {(rows) => (
          <DataTable
            data-testid="sign-off-worklist"
            striped
            highlightOnHover
            fz="sm"
            columns={columns}
            rows={rows}
            rowKey={(row) => String(row.result_id)}
            rowTestId="sign-off-row"
            empty="signOff.empty"
          />
        )}
      </PagedList>
    </Stack>
  );
}
