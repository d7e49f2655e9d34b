import { Anchor, Button, Code, Group, Modal, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { auditCsvUrl, useAuditEvents } from "../../api/admin";
import type { AuditFilters } from "../../api/admin";
import type { AuditEvent } from "../../api/types";
import { QueryState } from "../../components/QueryState";
import { StatusBadge } from "../../components/StatusBadge";
import { Pager } from "../../components/Pager";

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
        <Select
          label={t("audit.outcome")}
          clearable
          data={OUTCOMES.map((value) => ({ value, label: t(`status.${value}`) }))}
          value={outcome}
          onChange={(value) => (setOutcome(value), reset())}
          w={140}
        />
        <TextInput label={t("audit.actor")} value={actor} onChange={(e) => (setActor(e.currentTarget.value), reset())} w={150} />
        <TextInput label={t("audit.patient")} value={patient} onChange={(e) => (setPatient(e.currentTarget.value), reset())} w={200} />
        <TextInput label={t("audit.resourceType")} value={resourceType} onChange={(e) => (setResourceType(e.currentTarget.value), reset())} w={150} />
        <TextInput type="datetime-local" label={t("audit.since")} value={since} onChange={(e) => (setSince(e.currentTarget.value), reset())} />
        <TextInput type="datetime-local" label={t("audit.until")} value={until} onChange={(e) => (setUntil(e.currentTarget.value), reset())} />
      </Group>
      <QueryState query={events}>
        {(data) =>
          data.count === 0 ? (
            <Text c="dimmed">{t("audit.empty")}</Text>
          ) : (
            <>
              <Text size="sm" c="dimmed">
                {t("audit.count", { count: data.count })}
              </Text>
              <Table striped highlightOnHover fz="xs">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t("audit.when")}</Table.Th>
                    <Table.Th>{t("audit.actor")}</Table.Th>
                    <Table.Th>{t("audit.action")}</Table.Th>
                    <Table.Th>{t("audit.resource")}</Table.Th>
                    <Table.Th>{t("audit.patient")}</Table.Th>
                    <Table.Th>{t("audit.outcome")}</Table.Th>
                    <Table.Th>{t("audit.endpoint")}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.results.map((event) => (
                    <Table.Tr key={event.id}>
                      <Table.Td style={{ whiteSpace: "nowrap" }}>
                        <Anchor size="xs" onClick={() => setShown(event)}>
                          {new Date(event.occurred_at).toLocaleString()}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>{event.actor_username || event.actor_type}</Table.Td>
                      <Table.Td>{event.action}</Table.Td>
                      <Table.Td style={WRAP}>
                        {event.resource_type} {event.resource_id}
                      </Table.Td>
                      <Table.Td style={WRAP}>{event.patient_id}</Table.Td>
                      <Table.Td>
                        <StatusBadge value={event.outcome} />
                      </Table.Td>
                      <Table.Td style={WRAP}>{event.endpoint}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
              <Pager count={data.count} page={page} onChange={setPage} />
            </>
          )
        }
      </QueryState>
      <Modal opened={shown !== null} onClose={() => setShown(null)} title={t("audit.event")} size="lg">
        {shown && <Code block>{JSON.stringify(shown, null, 2)}</Code>}
      </Modal>
    </Stack>
  );
}
