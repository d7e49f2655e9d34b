import { SegmentedControl, Stack, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { useReconciliation } from "../../api/radiology";
import type { ReconciliationItem } from "../../api/radiology";
import { Pager } from "../../components/Pager";
import { QueryState } from "../../components/QueryState";
import { StatusBadge } from "../../components/StatusBadge";

export const reconcilePath = (id: number) => `/radiology/reconciliation/${id}`;

function ItemRow({ item }: { item: ReconciliationItem }) {
  const { t } = useTranslation();
  const identity = item.dicom_identity;
  return (
    <Table.Tr data-testid="reconcile-row">
      <Table.Td style={{ whiteSpace: "nowrap" }}>
        <StatusBadge value={item.status} />
      </Table.Td>
      <Table.Td>
        <Link to={reconcilePath(item.id)}>
          {identity.patient_name || t("reconciliation.noName")} ({identity.patient_id || "—"})
        </Link>
      </Table.Td>
      <Table.Td>{item.modality.split("\\").join(", ")}</Table.Td>
      <Table.Td style={{ whiteSpace: "nowrap" }}>{item.study_date ?? t("radiology.noDate")}</Table.Td>
      <Table.Td>
        <Text size="sm" maw={260} truncate="end" title={item.study_instance_uid}>
          {item.description || item.study_instance_uid}
        </Text>
      </Table.Td>
      <Table.Td>{item.reason}</Table.Td>
      <Table.Td>{item.candidates.length}</Table.Td>
      <Table.Td>{new Date(item.created_at).toLocaleString()}</Table.Td>
    </Table.Tr>
  );
}

/** Studies waiting for a RIB to say whose they are, newest first as the API orders them. */
export function ReconciliationList() {
  const { t } = useTranslation();
  const [status, setStatus] = useState("");
  const [page, setPage] = useState(1);
  const items = useReconciliation({ status, page });
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
      <QueryState query={items}>
        {(data) =>
          data.count === 0 ? (
            <Text c="dimmed">{t("reconciliation.empty")}</Text>
          ) : (
            <>
              <Table striped highlightOnHover fz="sm">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t("radiology.status")}</Table.Th>
                    <Table.Th>{t("radiology.dicomPatient")}</Table.Th>
                    <Table.Th>{t("radiology.modality")}</Table.Th>
                    <Table.Th>{t("radiology.studyDate")}</Table.Th>
                    <Table.Th>{t("radiology.description")}</Table.Th>
                    <Table.Th>{t("reconciliation.reason")}</Table.Th>
                    <Table.Th>{t("reconciliation.candidates")}</Table.Th>
                    <Table.Th>{t("reconciliation.received")}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.results.map((item) => (
                    <ItemRow key={item.id} item={item} />
                  ))}
                </Table.Tbody>
              </Table>
              <Pager count={data.count} page={page} onChange={setPage} />
            </>
          )
        }
      </QueryState>
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
