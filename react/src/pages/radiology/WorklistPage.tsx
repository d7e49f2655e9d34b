import { Badge, Button, Group, Select, Stack, Tabs, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";

import { MODALITIES, ORDER_STATUSES, useOrders, useStudies } from "../../api/radiology";
import type { Me } from "../../api/types";
import { can } from "../../auth/roles";
import { PagedList } from "../../components/PagedList";
import { StatusFilter } from "../../components/StatusFilter";
import { OrderTable } from "./OrderTable";
import { ReconciliationList, useWaitingCount } from "./ReconciliationList";
import { StudyTable } from "./StudyTable";

function StudiesTab() {
  const { t } = useTranslation();
  const [status, setStatus] = useState<string | null>(null);
  const [modality, setModality] = useState<string | null>(null);
  const [patient, setPatient] = useState("");
  const [dateFrom, setDateFrom] = useState("");
  const [dateTo, setDateTo] = useState("");
  const [page, setPage] = useState(1);
  const [patientQuery] = useDebouncedValue(patient.trim(), 300);
  const studies = useStudies({
    status: status ?? undefined,
    modality: modality ?? undefined,
    patient: patientQuery,
    date_from: dateFrom,
    date_to: dateTo,
    page,
  });
  const reset = () => setPage(1);
  return (
    <Stack>
      <Group align="end">
        <StatusFilter statuses={["LINKED", "RECONCILE", "CONFLICT"]} value={status} onChange={(value) => (setStatus(value), reset())} />
        <Select label={t("radiology.modality")} clearable data={[...MODALITIES, "SEG"]} value={modality} onChange={(value) => (setModality(value), reset())} w={120} />
        <TextInput label={t("radiology.patientId")} value={patient} onChange={(e) => (setPatient(e.currentTarget.value), reset())} w={260} />
        <TextInput type="date" label={t("radiology.dateFrom")} value={dateFrom} onChange={(e) => (setDateFrom(e.currentTarget.value), reset())} />
        <TextInput type="date" label={t("radiology.dateTo")} value={dateTo} onChange={(e) => (setDateTo(e.currentTarget.value), reset())} />
      </Group>
      <PagedList query={studies} page={page} onPageChange={setPage}>
        {(rows) => <StudyTable studies={rows} />}
      </PagedList>
    </Stack>
  );
}

function OrdersTab() {
  const { t } = useTranslation();
  const [status, setStatus] = useState<string | null>(null);
  const [patient, setPatient] = useState("");
  const [page, setPage] = useState(1);
  const [patientQuery] = useDebouncedValue(patient.trim(), 300);
  const orders = useOrders({ status: status ?? undefined, patient: patientQuery, page });
  return (
    <Stack>
      <Group align="end">
        <StatusFilter statuses={ORDER_STATUSES} value={status} onChange={(value) => (setStatus(value), setPage(1))} />
        <TextInput label={t("radiology.patientId")} value={patient} onChange={(e) => (setPatient(e.currentTarget.value), setPage(1))} w={260} />
      </Group>
      <PagedList query={orders} page={page} onPageChange={setPage}>
        {(rows) => <OrderTable orders={rows} />}
      </PagedList>
    </Stack>
  );
}

export function WorklistPage({ me }: { me: Me }) {
  const { t } = useTranslation();
  const reconciles = can.seeReconciliation(me.roles);
  const waiting = useWaitingCount(reconciles);
  const [params, setParams] = useSearchParams();
  const tab = params.get("tab") ?? "studies";
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={3}>{t("radiology.worklist")}</Title>
        {can.uploadDicom(me.roles) && (
          <Button component={Link} to="/radiology/upload">
            {t("nav.upload")}
          </Button>
        )}
      </Group>
      <Tabs value={tab} onChange={(value) => setParams(value && value !== "studies" ? { tab: value } : {}, { replace: true })} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="studies">{t("radiology.studies")}</Tabs.Tab>
          <Tabs.Tab value="orders">{t("radiology.orders")}</Tabs.Tab>
          {reconciles && (
            <Tabs.Tab
              value="reconciliation"
              rightSection={
                waiting ? (
                  <Badge size="sm" color="orange" circle={waiting < 10} data-testid="reconcile-count" aria-label={t("reconciliation.waiting", { count: waiting })}>
                    {waiting}
                  </Badge>
                ) : null
              }
            >
              {t("reconciliation.tab")}
            </Tabs.Tab>
          )}
        </Tabs.List>
        <Tabs.Panel value="studies" pt="md">
          <StudiesTab />
        </Tabs.Panel>
        <Tabs.Panel value="orders" pt="md">
          <OrdersTab />
        </Tabs.Panel>
        {reconciles && (
          <Tabs.Panel value="reconciliation" pt="md">
            <ReconciliationList />
          </Tabs.Panel>
        )}
      </Tabs>
    </Stack>
  );
}
