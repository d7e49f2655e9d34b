import { Select, Stack, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { useAiJobs } from "../../api/ai";
import type { AiJob } from "../../api/ai";
import { QueryState } from "../../components/QueryState";
import { StatusBadge } from "../../components/StatusBadge";
import { Pager } from "../../components/Pager";

export function JobTable({ jobs }: { jobs: AiJob[] }) {
  const { t } = useTranslation();
  if (!jobs.length) return <Text c="dimmed">{t("ai.noJobs")}</Text>;
  return (
    <Table striped highlightOnHover fz="sm">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t("ai.requestedAt")}</Table.Th>
          <Table.Th>{t("ai.task")}</Table.Th>
          <Table.Th>{t("ai.model")}</Table.Th>
          <Table.Th>{t("radiology.status")}</Table.Th>
          <Table.Th>{t("ai.resultStatus")}</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {jobs.map((job) => (
          <Table.Tr key={job.id}>
            <Table.Td>
              <Link to={`/ai/jobs/${job.id}`}>{new Date(job.created_at).toLocaleString()}</Link>
            </Table.Td>
            <Table.Td>{t(`ai.tasks.${job.task ?? "segmentation"}`, { defaultValue: job.task })}</Table.Td>
            <Table.Td>
              {job.model_name} {job.model_version}
            </Table.Td>
            <Table.Td>
              <StatusBadge value={job.status} />
            </Table.Td>
            <Table.Td>{job.result ? <StatusBadge value={job.result.status} /> : "—"}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

export function AiJobsPage() {
  const { t } = useTranslation();
  const [status, setStatus] = useState<string | null>(null);
  const [page, setPage] = useState(1);
  const jobs = useAiJobs({ status: status ?? undefined, page });
  return (
    <Stack>
      <Title order={3}>{t("ai.jobs")}</Title>
      <Select
        label={t("radiology.status")}
        clearable
        w={200}
        data={["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"].map((value) => ({ value, label: t(`status.${value}`) }))}
        value={status}
        onChange={(value) => (setStatus(value), setPage(1))}
      />
      <QueryState query={jobs}>
        {(data) => (
          <>
            <JobTable jobs={data.results} />
            <Pager count={data.count} page={page} onChange={setPage} />
          </>
        )}
      </QueryState>
    </Stack>
  );
}
