import { Alert, Button, Checkbox, Code, Group, Modal, Stack, Table, Tabs, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { useDeadLetter, useDeadLetters, useDiscardDeadLetter, useFhirMappings, useReplayDeadLetter, useReplayDeadLetters } from "../../api/admin";
import { QueryState } from "../../components/QueryState";
import { StatusBadge } from "../../components/StatusBadge";
import { Pager } from "../../components/Pager";


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
  return (
    <Stack>
      <Group>
        <Button disabled={!selected.length} loading={replayMany.isPending} onClick={() => replayMany.mutate(selected, { onSuccess: () => setSelected([]) })}>
          {t("fhir.replaySelected", { count: selected.length })}
        </Button>
        {replayMany.isSuccess && <Text c="green">{t("fhir.replayQueued")}</Text>}
      </Group>
      <QueryState query={letters}>
        {(data) =>
          data.count === 0 ? (
            <Text c="dimmed">{t("fhir.noDeadLetters")}</Text>
          ) : (
            <>
              <Table striped highlightOnHover fz="sm">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th />
                    <Table.Th>{t("fhir.created")}</Table.Th>
                    <Table.Th>{t("fhir.entity")}</Table.Th>
                    <Table.Th>{t("fhir.resource")}</Table.Th>
                    <Table.Th>{t("fhir.reason")}</Table.Th>
                    <Table.Th>{t("radiology.status")}</Table.Th>
                    <Table.Th />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.results.map((letter) => (
                    <Table.Tr key={letter.id}>
                      <Table.Td>
                        {letter.status === "open" && (
                          <Checkbox aria-label={t("fhir.select", { id: letter.id })} checked={selected.includes(letter.id)} onChange={() => toggle(letter.id)} />
                        )}
                      </Table.Td>
                      <Table.Td>{new Date(letter.created_at).toLocaleString()}</Table.Td>
                      <Table.Td>
                        {letter.entity_type} {letter.entity_id}
                      </Table.Td>
                      <Table.Td>{letter.resource_type}</Table.Td>
                      <Table.Td style={{ maxWidth: 360 }}>{letter.reason}</Table.Td>
                      <Table.Td>
                        <StatusBadge value={letter.status ?? "open"} />
                      </Table.Td>
                      <Table.Td>
                        <Button size="compact-xs" variant="light" onClick={() => setShown(letter.id)}>
                          {t("fhir.inspect")}
                        </Button>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
              <Pager count={data.count} page={page} onChange={setPage} />
            </>
          )
        }
      </QueryState>
      <DeadLetterModal id={shown} onClose={() => setShown(null)} />
    </Stack>
  );
}

function Mappings() {
  const { t } = useTranslation();
  const [page, setPage] = useState(1);
  const mappings = useFhirMappings(page);
  return (
    <QueryState query={mappings}>
      {(data) =>
        data.count === 0 ? (
          <Text c="dimmed">{t("fhir.noMappings")}</Text>
        ) : (
          <Stack>
            <Text size="sm" c="dimmed">
              {t("fhir.synced", { count: data.count })}
            </Text>
            <Table striped fz="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("fhir.entity")}</Table.Th>
                  <Table.Th>{t("fhir.resource")}</Table.Th>
                  <Table.Th>{t("fhir.version")}</Table.Th>
                  <Table.Th>{t("fhir.syncedAt")}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.results.map((mapping) => (
                  <Table.Tr key={`${mapping.entity_type}:${mapping.entity_id}`}>
                    <Table.Td>
                      {mapping.entity_type} {mapping.entity_id}
                    </Table.Td>
                    <Table.Td>
                      {mapping.resource_type}/{mapping.fhir_id}
                    </Table.Td>
                    <Table.Td>{mapping.fhir_version}</Table.Td>
                    <Table.Td>{new Date(mapping.synced_at).toLocaleString()}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            <Pager count={data.count} page={page} onChange={setPage} />
          </Stack>
        )
      }
    </QueryState>
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
