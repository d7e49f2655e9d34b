import { Anchor, Button, Code, Group, Modal, Select, Stack, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { auditCsvUrl, useAuditEvents } from "../../api/admin";
import type { AuditFilters } from "../../api/admin";
import type { AuditEvent } from "../../api/types";
import { DataTable, NOWRAP } from "../../components/DataTable";
import type { Column } from "../../components/DataTable";
import { PagedList } from "../../components/PagedList";
import { StatusBadge } from "../../components/StatusBadge";
import { StatusFilter } from "../../components/StatusFilter";

const ACTIONS = ["CREATE", "READ", "UPDATE", "DELETE", "LOGIN", "LOGIN_FAILED", "LOGOUT", "EXPORT", "EXTERNAL_CALL", "PERMISSION_DENIED"];
const OUTCOMES = ["SUCCESS", "FAILURE", "DENIED"];
const WRAP = { maxWidth: 360, wordBreak: "break-all" } as const; // long UIDs and DICOMweb paths

/** datetime-local ("2026-11-26T10:00") to the ISO time the API filters on, in the browser's zone. */
function isoTime(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function AuditPage() {
  const { t } = useTranslation();
  const [action, setAction] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const [actor, setActor] = useState("");
  const [patient, setPatient] = useState("");
  const [resourceType, setResourceType] = useState("");
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [page, setPage] = useState(1);
  const [shown, setShown] = useState<AuditEvent | null>(null);
  const [text] = useDebouncedValue({ actor: actor.trim(), patient: patient.trim(), resource_type: resourceType.trim() }, 300);

  const filters: AuditFilters = {
    action: action ?? undefined,
    outcome: outcome ?? undefined,
    ...text,
    since: isoTime(since),
    until: isoTime(until),
  };
  const events = useAuditEvents(filters, page);
  const reset = () => setPage(1);
  const columns: Column<AuditEvent>[] = [
    {
      key: "when",
      header: "audit.when",
      style: NOWRAP,
      cell: (event) => (
        <Anchor size="xs" onClick={() => setShown(event)}>
          {new Date(event.occurred_at).toLocaleString()}
        </Anchor>
      ),
    },
    { key: "actor", header: "audit.actor", cell: (event) => event.actor_username || event.actor_type },
    { key: "action", header: "audit.action", cell: (event) => event.action },
    { key: "resource", header: "audit.resource", style: WRAP, cell: (event) => `${event.resource_type} ${event.resource_id}` },
    { key: "patient", header: "audit.patient", style: WRAP, cell: (event) => event.patient_id },
    { key: "outcome", header: "audit.outcome", cell: (event) => <StatusBadge value={event.outcome} /> },
    { key: "endpoint", header: "audit.endpoint", style: WRAP, cell: (event) => event.endpoint },
  ];

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={3}>{t("audit.title")}</Title>
        <Button component="a" href={auditCsvUrl(filters)} variant="light" data-testid="csv-export">
          {t("audit.exportCsv")}
        </Button>
      </Group>
      <Group align="end">
        <Select label={t("audit.action")} clearable data={ACTIONS} value={action} onChange={(value) => (setAction(value), reset())} w={190} />
        <StatusFilter label="audit.outcome" statuses={OUTCOMES} w={140} value={outcome} onChange={(value) => (setOutcome(value), reset())} />
        <TextInput label={t("audit.actor")} value={actor} onChange={(e) => (setActor(e.currentTarget.value), reset())} w={150} />
        <TextInput label={t("audit.patient")} value={patient} onChange={(e) => (setPatient(e.currentTarget.value), reset())} w={200} />
        <TextInput label={t("audit.resourceType")} value={resourceType} onChange={(e) => (setResourceType(e.currentTarget.value), reset())} w={150} />
        <TextInput type="datetime-local" label={t("audit.since")} value={since} onChange={(e) => (setSince(e.currentTarget.value), reset())} />
        <TextInput type="datetime-local" label={t("audit.until")} value={until} onChange={(e) => (setUntil(e.currentTarget.value), reset())} />
      </Group>
      <PagedList query={events} page={page} onPageChange={setPage} countLabel="audit.count">
        {(rows) => <DataTable striped highlightOnHover fz="xs" columns={columns} rows={rows} rowKey={(event) => event.id} empty="audit.empty" />}
      </PagedList>
      <Modal opened={shown !== null} onClose={() => setShown(null)} title={t("audit.event")} size="lg">
        {shown && <Code block>{JSON.stringify(shown, null, 2)}</Code>}
      </Modal>
    </Stack>
  );
}
