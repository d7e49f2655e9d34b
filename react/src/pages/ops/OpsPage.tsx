import { Alert, Anchor, Badge, Card, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import { useOpsOverview } from "../../api/ops";
import type { OpsOverview } from "../../api/types";
import { QueryState } from "../../components/QueryState";

const STATE_COLORS: Record<string, string> = { up: "green", down: "red", not_configured: "gray" };
const COLOUR_COLORS: Record<string, string> = { blue: "blue", green: "green" };

const when = (at?: string | null) => (at ? new Date(at).toLocaleString() : "—");

/** "5 minutes", "3 hours", "2 days": the largest unit that fits. */
export function formatAge(seconds: number | null | undefined, t: (key: string, options?: Record<string, unknown>) => string): string {
  if (seconds == null) return t("ops.never");
  if (seconds < 3600) return t("ops.age.minutes", { count: Math.floor(seconds / 60) });
  if (seconds < 2 * 86400) return t("ops.age.hours", { count: Math.floor(seconds / 3600) });
  return t("ops.age.days", { count: Math.floor(seconds / 86400) });
}

interface SectionLike {
  status: string;
  detail?: string;
}

/** One card; a section the server could not compute shows why, and the other cards stay as they are. */
function Section({ name, title, section, children }: { name: string; title: string; section: SectionLike; children: () => ReactNode }) {
  const { t } = useTranslation();
  return (
    <Card withBorder data-testid={`ops-${name}`}>
      <Title order={5} mb="xs">
        {title}
      </Title>
      {section.status === "ok" ? (
        children()
      ) : (
        <Alert color="red" title={t("ops.sectionDown")} data-testid={`ops-${name}-down`}>
          {section.detail}
        </Alert>
      )}
    </Card>
  );
}

function Dependencies({ data }: { data: OpsOverview["dependencies"] }) {
  const { t } = useTranslation();
  return (
    <Stack gap="xs">
      <Table>
        <Table.Tbody>
          {(data.items ?? []).map((item) => (
            <Table.Tr key={item.name} data-testid={`dependency-${item.name}`}>
              <Table.Td>{t(`ops.dependency.${item.name}`, { defaultValue: item.name })}</Table.Td>
              <Table.Td>
                <Badge color={STATE_COLORS[item.state] ?? "gray"} variant="light">
                  {t(`ops.state.${item.state}`)}
                </Badge>
              </Table.Td>
              <Table.Td>{item.latency_ms == null ? "" : `${item.latency_ms} ms`}</Table.Td>
              <Table.Td>
                <Text size="xs" c="dimmed">
                  {item.detail}
                </Text>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Text size="xs" c="dimmed">
        {t("ops.checkedAgo", { seconds: Math.round(data.checked_seconds_ago ?? 0) })}
      </Text>
    </Stack>
  );
}

function Queues({ data }: { data: OpsOverview["queues"] }) {
  const { t } = useTranslation();
  return (
    <Table>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t("ops.queue")}</Table.Th>
          <Table.Th>{t("ops.messages")}</Table.Th>
          <Table.Th>{t("ops.consumers")}</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {(data.items ?? []).map((queue) => (
          <Table.Tr key={queue.name} data-testid={`queue-${queue.name}`}>
            <Table.Td>
              {queue.name} {queue.dead_letter && <Badge size="xs" color="orange" variant="light">{t("ops.deadLetterQueue")}</Badge>}
            </Table.Td>
            <Table.Td>
              {queue.messages == null ? (
                <Text size="xs" c="dimmed">
                  {queue.detail}
                </Text>
              ) : (
                <Text c={queue.dead_letter && queue.messages > 0 ? "red" : undefined}>{queue.messages}</Text>
              )}
            </Table.Td>
            <Table.Td>{queue.consumers ?? ""}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function Figure({ label, value, alarm = false, testId }: { label: string; value: ReactNode; alarm?: boolean; testId?: string }) {
  return (
    <Group justify="space-between" data-testid={testId}>
      <Text size="sm">{label}</Text>
      <Text component="div" fw={600} c={alarm ? "red" : undefined}>
        {value}
      </Text>
    </Group>
  );
}

function Alerts({ data }: { data: OpsOverview["alerts"] }) {
  const { t } = useTranslation();
  const list = (alerts: NonNullable<OpsOverview["alerts"]["firing"]>, color: string, testId: string) =>
    alerts.length === 0 ? (
      <Text size="sm" c="dimmed">
        {t("ops.none")}
      </Text>
    ) : (
      <Stack gap={4} data-testid={testId}>
        {alerts.map((alert) => (
          <Group key={`${alert.name}-${alert.received_at}`} gap="xs" wrap="nowrap">
            <Badge color={color} variant="light">
              {alert.name}
            </Badge>
            <Text size="sm">{alert.summary}</Text>
            <Text size="xs" c="dimmed">
              {when(alert.received_at)}
            </Text>
          </Group>
        ))}
      </Stack>
    );
  return (
    <Stack gap="xs">
      <Text fw={500} size="sm">
        {t("ops.firing", { count: data.firing?.length ?? 0 })}
      </Text>
      {list(data.firing ?? [], "red", "alerts-firing")}
      <Text fw={500} size="sm">
        {t("ops.resolved")}
      </Text>
      {list(data.resolved ?? [], "green", "alerts-resolved")}
    </Stack>
  );
}

function Overview({ data }: { data: OpsOverview }) {
  const { t } = useTranslation();
  const links = Object.entries(data.links).filter((entry): entry is [string, string] => Boolean(entry[1]));
  return (
    <Stack>
      <Group justify="space-between">
        <Text size="sm" c="dimmed">
          {t("ops.generatedAt", { at: when(data.generated_at) })}
        </Text>
        <Group data-testid="ops-links">
          {links.map(([name, url]) => (
            <Anchor key={name} href={url} target="_blank" rel="noopener noreferrer" size="sm">
              {t(`ops.link.${name}`)}
            </Anchor>
          ))}
        </Group>
      </Group>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Section name="dependencies" title={t("ops.dependencies")} section={data.dependencies}>
          {() => <Dependencies data={data.dependencies} />}
        </Section>
        <Section name="queues" title={t("ops.queues")} section={data.queues}>
          {() => <Queues data={data.queues} />}
        </Section>
        <Section name="alerts" title={t("ops.alerts")} section={data.alerts}>
          {() => <Alerts data={data.alerts} />}
        </Section>
        <Section name="ai_jobs" title={t("ops.aiJobs")} section={data.ai_jobs}>
          {() => (
            <Stack gap={4}>
              <Figure label={t("ops.failed24h")} value={data.ai_jobs.failed_last_24h} alarm={(data.ai_jobs.failed_last_24h ?? 0) > 0} testId="ai-failed" />
              {(data.ai_jobs.failed_by_task ?? []).map((row) => (
                <Figure key={row.task} label={`· ${row.task}`} value={row.count} />
              ))}
              <Figure label={t("ops.lastFailure")} value={when(data.ai_jobs.last_failed_at)} />
              <Figure label={t("ops.queued")} value={data.ai_jobs.queued} />
              <Figure label={t("ops.running")} value={data.ai_jobs.running} />
            </Stack>
          )}
        </Section>
        <Section name="fhir_dead_letters" title={t("ops.fhirDeadLetters")} section={data.fhir_dead_letters}>
          {() => (
            <Stack gap={4}>
              <Figure label={t("ops.openDeadLetters")} value={data.fhir_dead_letters.open} alarm={(data.fhir_dead_letters.open ?? 0) > 0} testId="fhir-open" />
              <Figure label={t("ops.oldestOpen")} value={when(data.fhir_dead_letters.oldest_open_at)} />
              <Figure label={t("ops.new24h")} value={data.fhir_dead_letters.created_last_24h} />
            </Stack>
          )}
        </Section>
        <Section name="deployment" title={t("ops.deployment")} section={data.deployment}>
          {() => (
            <Stack gap={4}>
              <Figure
                label={t("ops.liveColour")}
                testId="live-colour"
                value={
                  data.deployment.live_colour ? (
                    <Badge color={COLOUR_COLORS[data.deployment.live_colour] ?? "gray"}>{data.deployment.live_colour}</Badge>
                  ) : (
                    t("ops.unknown")
                  )
                }
              />
              <Figure label={t("ops.switchedAt")} value={when(data.deployment.switched_at)} />
            </Stack>
          )}
        </Section>
        <Section name="backups" title={t("ops.backups")} section={data.backups}>
          {() => (
            <Stack gap={4}>
              {(data.backups.items ?? []).map((backup) => (
                <Figure key={backup.kind} testId={`backup-${backup.kind}`} label={t(`ops.backupKind.${backup.kind}`, { defaultValue: backup.kind })} value={formatAge(backup.age_seconds, t)} />
              ))}
            </Stack>
          )}
        </Section>
      </SimpleGrid>
    </Stack>
  );
}

/** What operations staff watch, with no patient data: the dependencies, queues, failures, alerts, deploys and backups. */
export function OpsPage() {
  const { t } = useTranslation();
  const overview = useOpsOverview();
  return (
    <Stack>
      <Title order={3}>{t("ops.title")}</Title>
      <QueryState query={overview}>{(data) => <Overview data={data} />}</QueryState>
    </Stack>
  );
}
