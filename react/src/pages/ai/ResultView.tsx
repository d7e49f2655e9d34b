import { Alert, Anchor, Badge, Button, Card, Grid, Group, SimpleGrid, Stack, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { artifactUrl, kmCurvesInYears, labelVolumes, resultMetrics, riskScore, topGenes, useAmend, useReview } from "../../api/ai";
import type { AiJob, AiResult, LabelVolume, ResultRevision } from "../../api/ai";
import { useStudy } from "../../api/radiology";
import { BarChart, KmChart, geneRows } from "../../components/charts";
import { DataTable } from "../../components/DataTable";
import type { Column } from "../../components/DataTable";
import { QueryState } from "../../components/QueryState";
import { StatusBadge } from "../../components/StatusBadge";
import { aiSegOverlay } from "../../viewer/aiOverlay";
import { LazyStudyViewer } from "../../viewer/ViewerLoader";
import { Disclaimer } from "./Disclaimer";

const VOLUME_COLUMNS: Column<LabelVolume>[] = [
  { key: "label", header: "ai.label", cell: (row) => row.label },
  { key: "ml", header: "ai.volumeMl", cell: (row) => row.ml.toFixed(2) },
];

function SegmentationMetrics({ result }: { result: AiResult }) {
  const { t } = useTranslation();
  const volumes = labelVolumes(resultMetrics(result));
  if (!volumes.length) return <Text c="dimmed">{t("ai.noVolumes")}</Text>;
  return (
    <Stack gap="xs">
      <DataTable fz="sm" data-testid="volumes" columns={VOLUME_COLUMNS} rows={volumes} rowKey={(row) => row.label} />
      <BarChart rows={volumes.map((row) => ({ label: row.label, value: row.ml }))} unit=" mL" />
    </Stack>
  );
}

function OmicsMetrics({ result }: { result: AiResult }) {
  const { t } = useTranslation();
  const metrics = resultMetrics(result);
  const risk = riskScore(metrics);
  const genes = topGenes(metrics);
  const { curves, unit } = kmCurvesInYears(metrics);
  return (
    <SimpleGrid cols={{ base: 1, lg: 2 }}>
      <Stack>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            {t("ai.riskScore")}
          </Text>
          <Title order={2} data-testid="risk-score">
            {risk ? `${risk.score > 0 ? "+" : ""}${risk.score.toFixed(2)}` : "—"}
          </Title>
          <Text size="xs" c="dimmed">
            {t("ai.riskScoreUnit")}
          </Text>
          {risk?.group && <Text>{t("ai.riskGroup", { group: risk.group })}</Text>}
          {risk?.percentile !== undefined && <Text size="sm">{t("ai.percentile", { value: Math.round(risk.percentile) })}</Text>}
        </Card>
        <Card withBorder>
          <Title order={5} mb="xs">
            {t("ai.topGenes")}
          </Title>
          {genes.length ? (
            <>
              <BarChart rows={geneRows(genes.slice(0, 15))} labelWidth={170} />
              <Text size="xs" c="dimmed">
                {t("ai.geneContribution")}
              </Text>
            </>
          ) : (
            <Text c="dimmed">{t("ai.noGenes")}</Text>
          )}
        </Card>
      </Stack>
      <Card withBorder>
        <Title order={5} mb="xs">
          {t("ai.kaplanMeier")}
        </Title>
        {curves.length ? <KmChart curves={curves} timeLabel={unit ? t("ai.timeYears") : t("ai.time")} survivalLabel={t("ai.survival")} /> : <Text c="dimmed">{t("ai.noKm")}</Text>}
      </Card>
    </SimpleGrid>
  );
}

const when = (at?: string | null) => (at ? new Date(at).toLocaleString() : "");

/** A FINAL result changed with a reason: it stays final, gets version + 1, FHIR sees `amended`. */
function AmendForm({ result }: { result: AiResult }) {
  const { t } = useTranslation();
  const amend = useAmend();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [summary, setSummary] = useState(result.summary);
  const [comment, setComment] = useState(result.review_comment);
  if (!open) {
    return (
      <Button variant="default" size="xs" onClick={() => setOpen(true)}>
        {t("signOff.amend")}
      </Button>
    );
  }
  const changed = summary.trim() !== result.summary || comment.trim() !== result.review_comment;
  return (
    <Stack gap="xs" data-testid="amend-form">
      <TextInput label={t("signOff.reason")} value={reason} onChange={(e) => setReason(e.currentTarget.value)} required maxLength={2000} />
      <Textarea label={t("signOff.newSummary")} value={summary} onChange={(e) => setSummary(e.currentTarget.value)} autosize minRows={2} maxLength={2000} />
      <Textarea label={t("ai.comment")} value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={2} maxLength={2000} />
      <Group>
        <Button
          disabled={!reason.trim() || !changed}
          loading={amend.isPending}
          onClick={() =>
            amend.mutate(
              { resultId: result.id, reason, summary, review_comment: comment },
              { onSuccess: () => (setOpen(false), setReason("")) },
            )
          }
        >
          {t("signOff.saveAmendment")}
        </Button>
        <Button variant="subtle" onClick={() => setOpen(false)}>
          {t("signOff.cancel")}
        </Button>
      </Group>
      {amend.isError && (
        <Alert color="red" role="alert">
          {t("errors.generic", { detail: amend.error.message })}
        </Alert>
      )}
    </Stack>
  );
}

/** The versions an amendment replaced, newest first (the result itself is the current one). */
function History({ revisions }: { revisions: ResultRevision[] }) {
  const { t } = useTranslation();
  if (!revisions.length) return null;
  return (
    <Stack gap={4} data-testid="result-history">
      <Text size="sm" fw={500}>
        {t("signOff.history")}
      </Text>
      {revisions.map((revision) => (
        <Text key={revision.version} size="xs" c="dimmed">
          {t("signOff.version", { version: revision.version })} · {revision.summary || "—"}
          {revision.review_comment ? ` · ${revision.review_comment}` : ""}
          {revision.amended_by
            ? ` · ${t("signOff.amendedBy", { user: revision.amended_by, at: when(revision.amended_at), reason: revision.amendment_reason })}`
            : revision.reviewed_by
              ? ` · ${t("ai.reviewedBy", { user: revision.reviewed_by, at: when(revision.reviewed_at) })}`
              : ""}
        </Text>
      ))}
    </Stack>
  );
}

function ReviewPanel({ result, canReview, username }: { result: AiResult; canReview: boolean; username?: string }) {
  const { t } = useTranslation();
  const review = useReview();
  const [comment, setComment] = useState("");
  // a second reader required: whoever gave the first read cannot give the second (the API refuses it too)
  const gaveFirstRead = result.awaiting_second_read && !!username && result.first_reader === username;
  const canDecide = canReview && !gaveFirstRead && !result.superseded_by;
  return (
    <Card withBorder data-testid="review">
      <Group gap="xs" mb="xs">
        <Title order={5}>{t("ai.review")}</Title>
        <StatusBadge value={result.status} />
        {result.second_reader_required && (
          <Badge color="grape" variant="light" data-testid="two-readers">
            {t("signOff.twoReaders")}
          </Badge>
        )}
        {result.awaiting_second_read && (
          <Badge color="orange" variant="light" data-testid="awaiting-second-read">
            {t("signOff.awaitingSecondRead")}
          </Badge>
        )}
        {result.report_status === "amended" && (
          <Badge color="violet" variant="light" data-testid="amended">
            {t("signOff.amended", { version: result.version })}
          </Badge>
        )}
      </Group>
      {result.amended_by && (
        <Text size="sm">{t("signOff.amendedBy", { user: result.amended_by, at: when(result.amended_at), reason: result.amendment_reason })}</Text>
      )}
      {result.superseded_by && (
        <Text size="sm" c="dimmed" data-testid="superseded">
          {t("signOff.superseded")}
        </Text>
      )}
      {result.second_reader_required && result.status === "PRELIMINARY" && !result.first_reader && (
        <Text size="sm" c="dimmed">
          {t("signOff.secondReaderRequired")}
        </Text>
      )}
      {result.first_reader && (
        <Text size="sm" data-testid="first-read">
          {t("signOff.firstReadAt", { user: result.first_reader, at: when(result.first_read_at) })}
          {result.first_read_comment ? ` — ${result.first_read_comment}` : ""}
        </Text>
      )}
      {result.reviewed_by && (
        <Text size="sm">
          {t("ai.reviewedBy", { user: result.reviewed_by, at: result.reviewed_at ? new Date(result.reviewed_at).toLocaleString() : "" })}
          {result.review_comment ? ` — ${result.review_comment}` : ""}
        </Text>
      )}
      {result.status === "PRELIMINARY" && !canReview && <Text size="sm" c="dimmed">{t("ai.awaitingReview")}</Text>}
      {result.status === "PRELIMINARY" && canReview && gaveFirstRead && (
        <Text size="sm" c="dimmed" data-testid="gave-first-read">
          {t("signOff.youGaveFirstRead")}
        </Text>
      )}
      {result.status === "PRELIMINARY" && canDecide && (
        <Stack gap="xs">
          <Textarea label={t("ai.comment")} value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={2} maxLength={2000} />
          <Group>
            <Button color="green" disabled={!comment.trim()} loading={review.isPending && review.variables?.decision === "approve"} onClick={() => review.mutate({ resultId: result.id, decision: "approve", comment })}>
              {t("ai.approve")}
            </Button>
            <Button color="red" variant="light" disabled={!comment.trim()} loading={review.isPending && review.variables?.decision === "reject"} onClick={() => review.mutate({ resultId: result.id, decision: "reject", comment })}>
              {t("ai.reject")}
            </Button>
          </Group>
          {review.isError && (
            <Alert color="red" role="alert">
              {t("errors.generic", { detail: review.error.message })}
            </Alert>
          )}
        </Stack>
      )}
      <Stack gap="xs" mt="xs">
        {result.status === "FINAL" && canReview && <AmendForm key={result.version} result={result} />}
        <History revisions={result.revisions ?? []} />
      </Stack>
    </Card>
  );
}

function StudyOverlay({ job, result }: { job: AiJob; result: AiResult }) {
  const { t } = useTranslation();
  const study = useStudy(job.study ?? NaN);
  const overlay = aiSegOverlay(job, result, t("viewer.aiOverlay"));
  return (
    <QueryState query={study}>
      {(data) => (
        <LazyStudyViewer
          studyId={data.id}
          studyUid={data.study_instance_uid}
          series={data.series}
          initialOverlay={overlay?.key}
          overlays={overlay ? [overlay] : []}
        />
      )}
    </QueryState>
  );
}

export function ResultView({ job, result, canReview, username }: { job: AiJob; result: AiResult; canReview: boolean; username?: string }) {
  const { t } = useTranslation();
  const task = job.task ?? (job.study ? "segmentation" : "omics-risk");
  const artifacts = result.artifacts ?? [];
  return (
    <Stack>
      <Disclaimer text={result.disclaimer} />
      {result.summary && <Text fw={500}>{result.summary}</Text>}
      {task === "segmentation" ? <SegmentationMetrics result={result} /> : <OmicsMetrics result={result} />}
      {task === "segmentation" && job.study ? (
        // the images beside the sign-off: the radiologist approves or rejects looking at the overlay
        <Grid data-testid="sign-off-with-viewer">
          <Grid.Col span={{ base: 12, lg: 8 }}>
            <StudyOverlay job={job} result={result} />
          </Grid.Col>
          <Grid.Col span={{ base: 12, lg: 4 }}>
            <ReviewPanel result={result} canReview={canReview} username={username} />
          </Grid.Col>
        </Grid>
      ) : (
        <ReviewPanel result={result} canReview={canReview} username={username} />
      )}
      {artifacts.length > 0 && (
        <Card withBorder>
          <Title order={5} mb="xs">
            {t("ai.artifacts")}
          </Title>
          <Group>
            {artifacts.map((artifact) => (
              <Anchor key={artifact.name} href={artifact.url ?? artifactUrl(job.id, artifact.name)} size="sm">
                {artifact.name}{artifact.size ? ` (${Math.ceil(artifact.size / 1024)} kB)` : ""}
              </Anchor>
            ))}
          </Group>
        </Card>
      )}
    </Stack>
  );
}
