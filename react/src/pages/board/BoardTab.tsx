// The patient's tumour-board summary: latest imaging with its AI overlay, the lesion volume over time, the
// omics risk, the EMR's problems and medications, and what still waits for sign-off. One screen, printable
// (board.css: one column, no navigation), as a PDF, and shared with the FHIR server as a DiagnosticReport.
import { Alert, Anchor, Button, Card, Group, Image, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useState } from "react";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { boardPdfUrl, useBoard, useShareBoard } from "../../api/board";
import type { BoardSummary } from "../../api/board";
import { can } from "../../auth/roles";
import { QueryState } from "../../components/QueryState";
import { StatusBadge } from "../../components/StatusBadge";
import "./board.css";

function Section({ title, testId, children }: { title: string; testId: string; children: ReactNode }) {
  return (
    <Card withBorder data-testid={testId}>
      <Title order={5} mb="xs">
        {title}
      </Title>
      {children}
    </Card>
  );
}

function None({ text }: { text?: string }) {
  const { t } = useTranslation();
  return <Text c="dimmed">{text ?? t("patient.none")}</Text>;
}

function number(value: number | null | undefined, digits: number): string {
  return typeof value === "number" ? value.toFixed(digits) : "—";
}

/** An image of the API; one that cannot be shown (not rendered yet, removed) gives way to a short note. */
function Picture({ src, alt }: { src: string; alt: string }) {
  const { t } = useTranslation();
  const [failed, setFailed] = useState(false);
  if (failed) {
    return (
      <Text size="xs" c="dimmed" w={180}>
        {t("board.noPicture", { name: alt })}
      </Text>
    );
  }
  return <Image src={src} alt={alt} w={180} radius="sm" onError={() => setFailed(true)} />;
}

function Imaging({ imaging }: { imaging: BoardSummary["imaging"] }) {
  const { t } = useTranslation();
  if (!imaging) return <None text={t("board.noImaging")} />;
  const { study, overlay } = imaging;
  return (
    <Stack gap="xs">
      <Text>
        <Anchor component={Link} to={`/radiology/studies/${study.id}`}>
          {[study.study_date ?? "—", study.modality, study.description].filter(Boolean).join(" · ")}
        </Anchor>
      </Text>
      <Group className="board-images" align="flex-start" wrap="nowrap">
        {imaging.thumbnail_url && <Picture src={imaging.thumbnail_url} alt={t("board.thumbnail")} />}
        {overlay?.url && <Picture src={overlay.url} alt={t("board.overlay")} />}
      </Group>
      {overlay ? (
        <Group gap="xs">
          <StatusBadge value={overlay.status} />
          <Text size="sm">
            {overlay.model}: {overlay.summary}
          </Text>
        </Group>
      ) : (
        <Text size="sm" c="dimmed">
          {t("board.noSegmentation")}
        </Text>
      )}
    </Stack>
  );
}

function Trend({ trend }: { trend: BoardSummary["volume_trend"] }) {
  const { t } = useTranslation();
  if (trend.length === 0) return <None text={t("board.noTrend")} />;
  const labels = [...new Set(trend.flatMap((row) => Object.keys(row.volumes_ml)))].sort();
  return (
    <Table fz="sm" withTableBorder>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t("board.date")}</Table.Th>
          {labels.map((label) => (
            <Table.Th key={label}>{t("board.volumeOf", { label })}</Table.Th>
          ))}
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {trend.map((row) => (
          <Table.Tr key={row.result_id}>
            <Table.Td>{row.date}</Table.Td>
            {labels.map((label) => (
              <Table.Td key={label}>{number(row.volumes_ml[label], 1)}</Table.Td>
            ))}
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function Omics({ omics }: { omics: BoardSummary["omics"] }) {
  const { t } = useTranslation();
  if (!omics) return <None text={t("board.noOmics")} />;
  return (
    <Stack gap={4}>
      <Group gap="xs">
        <Text fw={600}>
          {t("board.riskGroup")}: {omics.risk_group ?? "—"}
        </Text>
        <StatusBadge value={omics.status} />
      </Group>
      <Text size="sm">
        {t("board.riskScore")}: {number(omics.risk_score, 2)} · {t("board.percentile")}: {number(omics.percentile, 1)}
      </Text>
      <Text size="sm">
        <Anchor component={Link} to={`/ai/jobs/${omics.job_id}`}>
          {omics.model}
        </Anchor>
      </Text>
      {omics.disclaimer && (
        <Text size="xs" c="dimmed">
          {omics.disclaimer}
        </Text>
      )}
    </Stack>
  );
}

function EmrList({ rows }: { rows: BoardSummary["problems"] }) {
  if (rows.length === 0) return <None />;
  return (
    <Stack gap={2}>
      {rows.map((row, index) => (
        <Text size="sm" key={`${row.title}-${index}`}>
          {row.title}
          {row.diagnosis ? ` (${row.diagnosis})` : ""}
          {row.begdate ? ` · ${row.begdate}` : ""}
        </Text>
      ))}
    </Stack>
  );
}

function Pending({ rows }: { rows: BoardSummary["pending_signoffs"] }) {
  const { t } = useTranslation();
  if (rows.length === 0) return <None text={t("board.noPending")} />;
  return (
    <Stack gap={2}>
      {rows.map((row) => (
        <Text size="sm" key={row.result_id}>
          <Anchor component={Link} to={`/ai/jobs/${row.job_id}`}>
            {row.model}
          </Anchor>{" "}
          · {t(`ai.tasks.${row.task}`, { defaultValue: row.task })} · {row.created_at.slice(0, 16).replace("T", " ")}
        </Text>
      ))}
    </Stack>
  );
}

function Share({ puuid }: { puuid: string }) {
  const { t } = useTranslation();
  const share = useShareBoard(puuid);
  return (
    <>
      <Button size="xs" variant="light" onClick={() => share.mutate()} loading={share.isPending}>
        {t("board.share")}
      </Button>
      {share.isSuccess && (
        <Text size="sm" c="green" data-testid="board-shared">
          {t("board.shared", { id: share.data.id })}
        </Text>
      )}
      {share.isError && (
        <Text size="sm" c="red" role="alert">
          {share.error.message}
        </Text>
      )}
    </>
  );
}

export function BoardTab({ puuid, roles }: { puuid: string; roles: readonly string[] }) {
  const { t } = useTranslation();
  const board = useBoard(puuid);
  return (
    <Stack data-testid="board">
      <Group className="board-no-print" gap="xs">
        <Button size="xs" onClick={() => window.print()}>
          {t("board.print")}
        </Button>
        <Button size="xs" variant="default" component="a" href={boardPdfUrl(puuid)}>
          {t("board.pdf")}
        </Button>
        {can.shareBoard(roles) && <Share puuid={puuid} />}
      </Group>
      <QueryState query={board}>
        {(data) => (
          <Stack>
            <Title order={4}>
              {t("board.title")}: {data.patient.family_name} {data.patient.given_name} ({data.patient.mrn})
            </Title>
            <SimpleGrid className="board-grid" cols={{ base: 1, lg: 2 }}>
              <Section title={t("board.latestImaging")} testId="board-imaging">
                <Imaging imaging={data.imaging} />
              </Section>
              <Section title={t("board.trend")} testId="board-trend">
                <Trend trend={data.volume_trend} />
              </Section>
              <Section title={t("board.omics")} testId="board-omics">
                <Omics omics={data.omics} />
              </Section>
              <Section title={t("board.pending")} testId="board-pending">
                <Pending rows={data.pending_signoffs} />
              </Section>
              <Section title={t("patient.sections.problems")} testId="board-problems">
                {data.emr_error ? <Alert color="orange">{t("board.emrDown", { detail: data.emr_error })}</Alert> : <EmrList rows={data.problems} />}
              </Section>
              <Section title={t("patient.sections.medications")} testId="board-medications">
                {data.emr_error ? <Alert color="orange">{t("board.emrDown", { detail: data.emr_error })}</Alert> : <EmrList rows={data.medications} />}
              </Section>
            </SimpleGrid>
            <Text size="xs" c="dimmed">
              {t("board.footer", { when: data.generated_at.slice(0, 16).replace("T", " ") })}
            </Text>
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
