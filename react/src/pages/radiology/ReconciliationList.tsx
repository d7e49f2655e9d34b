import { SegmentedControl, Stack, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { modalityText, useReconciliation } from "../../api/radiology";
import type { ReconciliationItem } from "../../api/radiology";
import { DataTable, NOWRAP } from "../../components/DataTable";
import type { Column } from "../../components/DataTable";
import { PagedList } from "../../components/PagedList";
import { StatusBadge } from "../../components/StatusBadge";

export const reconcilePath = (id: number) => `/radiology/reconciliation/${id}`;

/** Studies waiting for a RIB to say whose they are, newest first as the API orders them. */
export function ReconciliationList() {
  const { t } = useTranslation();
  const [status, setStatus] = useState("");
  const [page, setPage] = useState(1);
  const items = useReconciliation({ status, page });
  const columns: Column<ReconciliationItem>[] = [
    { key: "status", header: "radiology.status", style: NOWRAP, cell: (item) => <StatusBadge value={item.status} /> },
    { key: "patient", header: "radiology.dicomPatient", link: (item) => reconcilePath(item.id), cell: ({ dicom_identity: identity }) => `${identity.patient_name || t("reconciliation.noName")} (${identity.patient_id || "—"})` },
    { key: "modality", header: "radiology.modality", cell: (item) => modalityText(item.modality) },
    { key: "date", header: "radiology.studyDate", style: NOWRAP, cell: (item) => item.study_date ?? t("radiology.noDate") },
    {
      key: "description",
      header: "radiology.description",
      cell: (item) => (
        <Text size="sm" maw={260} truncate="end" title={item.study_instance_uid}>
          {item.description || item.study_instance_uid}
        </Text>
      ),
    },
    { key: "reason", header: "reconciliation.reason", cell: (item) => item.reason },
    { key: "candidates", header: "reconciliation.candidates", cell: (item) => item.candidates.length },
    { key: "received", header: "reconciliation.received", cell: (item) => new Date(item.created_at).toLocaleString() },
  ];
  return (
    <Stack>
      <SegmentedControl
        aria-label={t("radiology.status")}
        data-testid="status-filter"
        w="fit-content"
        data={[{ value: "", label: t("reconciliation.all") }, ...["RECONCILE", "CONFLICT"].map((value) => ({ value, label: t(`status.${value}`) }))]}
        value={status}
        onChange={(value) => (setStatus(value), setPage(1))}
      />
      <PagedList query={items} page={page} onPageChange={setPage}>
        {(rows) => <DataTable striped highlightOnHover fz="sm" columns={columns} rows={rows} rowKey={(item) => item.id} rowTestId="reconcile-row" empty="reconciliation.empty" />}
      </PagedList>
    </Stack>
  );
}

/** The number on the worklist's tab: how many studies wait, nothing while unknown. */
export function useWaitingCount(enabled: boolean): number | null {
  const items = useReconciliation({ page: 1 }, enabled);
  return items.data?.count ?? null;
}

/** The list on a page of its own, for an ADMIN (who has no imaging worklist). */
export function ReconciliationListPage() {
  const { t } = useTranslation();
  return (
    <Stack>
      <Title order={3}>{t("reconciliation.tab")}</Title>
      <ReconciliationList />
    </Stack>
  );
}
