import { Stack, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { useAiJobs } from "../../api/ai";
import type { AiJob } from "../../api/ai";
import { DataTable } from "../../components/DataTable";
import type { Column } from "../../components/DataTable";
import { PagedList } from "../../components/PagedList";
import { StatusBadge } from "../../components/StatusBadge";
import { StatusFilter } from "../../components/StatusFilter";

export function JobTable({ jobs }: { jobs: AiJob[] }) {
  const { t } = useTranslation();
  const columns: Column<AiJob>[] = [
    { key: "requestedAt", header: "ai.requestedAt", link: (job) => `/ai/jobs/${job.id}`, cell: (job) => new Date(job.created_at).toLocaleString() },
    { key: "task", header: "ai.task", cell: (job) => t(`ai.tasks.${job.task ?? "segmentation"}`, { defaultValue: job.task }) },
    { key: "model", header: "ai.model", cell: (job) => `${job.model_name} ${job.model_version}` },
    { key: "status", header: "radiology.status", cell: (job) => <StatusBadge value={job.status} /> },
    { key: "result", header: "ai.resultStatus", cell: (job) => (job.result ? <StatusBadge value={job.result.status} /> : "—") },
  ];
  return <DataTable striped highlightOnHover fz="sm" columns={columns} rows={jobs} rowKey={(job) => job.id} empty="ai.noJobs" />;
}

export function AiJobsPage() {
  const { t } = useTranslation();
  const [status, setStatus] = useState<string | null>(null);
  const [page, setPage] = useState(1);
  const jobs = useAiJobs({ status: status ?? undefined, page });
  return (
    <Stack>
      <Title order={3}>{t("ai.jobs")}</Title>
      <StatusFilter statuses={["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]} w={200} value={status} onChange={(value) => (setStatus(value), setPage(1))} />
      <PagedList query={jobs} page={page} onPageChange={setPage}>
        {(rows) => <JobTable jobs={rows} />}
      </PagedList>
    </Stack>
  );
}
