import { Alert, Button, Checkbox, Code, Group, Modal, Stack, Tabs, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { useDeadLetter, useDeadLetters, useDiscardDeadLetter, useFhirMappings, useReplayDeadLetter, useReplayDeadLetters } from "../../api/admin";
import type { DeadLetter, FhirMapping } from "../../api/types";
import { DataTable } from "../../components/DataTable";
import type { Column } from "../../components/DataTable";
import { PagedList } from "../../components/PagedList";
import { QueryState } from "../../components/QueryState";
import { StatusBadge } from "../../components/StatusBadge";


function DeadLetterModal({ id, onClose }: { id: number | null; onClose: () => void }) {
  const { t } = useTranslation();
  const letter = useDeadLetter(id);
  const replay = useReplayDeadLetter();
  const discard = useDiscardDeadLetter();
  const [reason, setReason] = useState("");
  return (
    <Modal opened={id !== null} onClose={onClose} title={t("fhir.deadLetter", { id })} size="xl">
      <QueryState query={letter}>
        {(data) => (
          <Stack>
            <Group>
              <StatusBadge value={data.status ?? "open"} />
              <Text size="sm">
                {data.entity_type} {data.entity_id} → {data.resource_type}
              </Text>
            </Group>
            <Text size="sm">
              {t("fhir.reason")}: {data.reason}
            </Text>
            <Text size="sm" c="dimmed">
              {data.error_class} · HTTP {data.http_status ?? "—"} · {t("fhir.attempts", { count: data.attempts ?? 0 })} · {t("fhir.replays", { count: data.replay_count ?? 0 })}
            </Text>
            {data.operation_outcome != null && (
              <>
                <Text fw={500} size="sm">
                  OperationOutcome
                </Text>
                <Code block>{JSON.stringify(data.operation_outcome, null, 2)}</Code>
              </>
            )}
            {replay.isSuccess && <Alert color="green">{t("fhir.replayQueued")}</Alert>}
            {(replay.isError || discard.isError) && (
              <Alert color="red" role="alert">
                {t("errors.generic", { detail: (replay.error ?? discard.error)?.message })}
              </Alert>
            )}
            {data.status === "open" && (
              <Group align="end">
                <Button onClick={() => replay.mutate(data.id)} loading={replay.isPending}>
                  {t("fhir.replay")}
                </Button>
                <TextInput label={t("fhir.discardReason")} value={reason} onChange={(e) => setReason(e.currentTarget.value)} w={300} />
                <Button color="red" variant="light" disabled={!reason.trim()} loading={discard.isPending} onClick={() => discard.mutate({ id: data.id, reason: reason.trim() })}>
                  {t("fhir.discard")}
                </Button>
              </Group>
            )}
          </Stack>
        )}
      </QueryState>
    </Modal>
  );
}

function DeadLetters() {
  const { t } = useTranslation();
  const [page, setPage] = useState(1);
  const [selected, setSelected] = useState<number[]>([]);
  const [shown, setShown] = useState<number | null>(null);
  const letters = useDeadLetters(page);
  const replayMany = useReplayDeadLetters();
  const toggle = (id: number) => setSelected((previous) => (previous.includes(id) ? previous.filter((other) => other !== id) : [...previous, id]));
  const columns: Column<DeadLetter>[] = [
    {
      key: "select",
      cell: (letter) =>
        letter.status === "open" && <Checkbox aria-label={t("fhir.select", { id: letter.id })} checked={selected.includes(letter.id)} onChange={() => toggle(letter.id)} />,
    },
    { key: "created", header: "fhir.created", cell: (letter) => new Date(letter.created_at).toLocaleString() },
    { key: "entity", header: "fhir.entity", cell: (letter) => `${letter.entity_type} ${letter.entity_id}` },
    { key: "resource", header: "fhir.resource", cell: (letter) => letter.resource_type },
    { key: "reason", header: "fhir.reason", style: { maxWidth: 360 }, cell: (letter) => letter.reason },
    { key: "status", header: "radiology.status", cell: (letter) => <StatusBadge value={letter.status ?? "open"} /> },
    {
      key: "inspect",
      cell: (letter) => (
        <Button size="compact-xs" variant="light" onClick={() => setShown(letter.id)}>
          {t("fhir.inspect")}
        </Button>
      ),
    },
  ];
  return (
    <Stack>
      <Group>
        <Button disabled={!selected.length} loading={replayMany.isPending} onClick={() => replayMany.mutate(selected, { onSuccess: () => setSelected([]) })}>
          {t("fhir.replaySelected", { count: selected.length })}
        </Button>
        {replayMany.isSuccess && <Text c="green">{t("fhir.replayQueued")}</Text>}
      </Group>
      <PagedList query={letters} page={page} onPageChange={setPage}>
        {(rows) => <DataTable striped highlightOnHover fz="sm" columns={columns} rows={rows} rowKey={(letter) => letter.id} empty="fhir.noDeadLetters" />}
      </PagedList>
      <DeadLetterModal id={shown} onClose={() => setShown(null)} />
    </Stack>
  );
}

const MAPPING_COLUMNS: Column<FhirMapping>[] = [
  { key: "entity", header: "fhir.entity", cell: (mapping) => `${mapping.entity_type} ${mapping.entity_id}` },
  { key: "resource", header: "fhir.resource", cell: (mapping) => `${mapping.resource_type}/${mapping.fhir_id}` },
  { key: "version", header: "fhir.version", cell: (mapping) => mapping.fhir_version },
  { key: "syncedAt", header: "fhir.syncedAt", cell: (mapping) => new Date(mapping.synced_at).toLocaleString() },
];

function Mappings() {
  const [page, setPage] = useState(1);
  const mappings = useFhirMappings(page);
  return (
    <Stack>
      <PagedList query={mappings} page={page} onPageChange={setPage} countLabel="fhir.synced">
        {(rows) => <DataTable striped fz="sm" columns={MAPPING_COLUMNS} rows={rows} rowKey={(mapping) => `${mapping.entity_type}:${mapping.entity_id}`} empty="fhir.noMappings" />}
      </PagedList>
    </Stack>
  );
}

export function FhirPage() {
  const { t } = useTranslation();
  return (
    <Stack>
      <Title order={3}>{t("fhir.title")}</Title>
      <Tabs defaultValue="dead-letters" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="dead-letters">{t("fhir.deadLetters")}</Tabs.Tab>
          <Tabs.Tab value="mappings">{t("fhir.mappings")}</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="dead-letters" pt="md">
          <DeadLetters />
        </Tabs.Panel>
        <Tabs.Panel value="mappings" pt="md">
          <Mappings />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
