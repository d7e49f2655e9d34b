import { Alert, Anchor, Button, Card, Grid, Group, Stack, Text, Textarea, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";

import { modalityText, useReconciliationItem, useResolveStudy } from "../../api/radiology";
import type { ReconciliationItem } from "../../api/radiology";
import type { Me } from "../../api/types";
import { can } from "../../auth/roles";
import { DetailPage, RecordHeader } from "../../components/DetailPage";
import { StatusBadge } from "../../components/StatusBadge";
import { CandidateTable, DicomIdentityCard, ExistingStudyCard, PatientSearch, ResolveError } from "./ReconcileParts";
import type { Choice } from "./ReconcileParts";

/** Where the list is: the worklist's tab for RIB staff, the page of its own for an ADMIN. */
export const reconciliationListPath = (roles: readonly string[]) => (can.seeImaging(roles) ? "/radiology?tab=reconciliation" : "/radiology/reconciliation");

function ResolveForm({ item, chosen, back }: { item: ReconciliationItem; chosen: Choice | null; back: string }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const resolve = useResolveStudy(item.id);
  const [comment, setComment] = useState("");
  const [confirmReject, setConfirmReject] = useState(false);
  const ready = comment.trim().length > 0;
  const link = () =>
    chosen &&
    resolve.mutate(
      { action: "link", patient: chosen.id, comment: comment.trim() },
      { onSuccess: (study) => navigate(`/radiology/studies/${study?.id ?? item.id}`) },
    );
  const reject = () => resolve.mutate({ action: "reject", comment: comment.trim() }, { onSuccess: () => navigate(back) });
  return (
    <Card withBorder data-testid="resolve">
      <Stack gap="xs">
        <Title order={5}>{t("reconciliation.resolve")}</Title>
        <Text size="sm" data-testid="chosen-patient">
          {chosen ? t("reconciliation.chosen", { patient: chosen.label }) : t("reconciliation.noneChosen")}
        </Text>
        <Textarea label={t("reconciliation.comment")} description={t("reconciliation.commentHelp")} required value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={2} maxLength={2000} />
        <Group>
          <Button disabled={!chosen || !ready} loading={resolve.isPending && resolve.variables?.action === "link"} onClick={link}>
            {t("reconciliation.link")}
          </Button>
          {item.status === "CONFLICT" &&
            (confirmReject ? (
              <Button color="red" disabled={!ready} loading={resolve.isPending && resolve.variables?.action === "reject"} onClick={reject}>
                {t("reconciliation.confirmReject")}
              </Button>
            ) : (
              <Button color="red" variant="light" disabled={!ready} onClick={() => setConfirmReject(true)}>
                {t("reconciliation.reject")}
              </Button>
            ))}
        </Group>
        {confirmReject && !resolve.isPending && (
          <Text size="sm" c="red">
            {t("reconciliation.rejectWarning", { count: item.number_of_instances })}
          </Text>
        )}
        {resolve.isError && <ResolveError error={resolve.error} />}
      </Stack>
    </Card>
  );
}

/** One study waiting for reconciliation: the images' identity beside the EMR's candidates; RIB staff link
 * it to a patient (or, for a conflict, reject the new images), an ADMIN only looks. */
export function ReconciliationPage({ me }: { me: Me }) {
  const { t } = useTranslation();
  const { itemId = "" } = useParams();
  const item = useReconciliationItem(Number(itemId));
  const [chosen, setChosen] = useState<Choice | null>(null);
  const acts = can.reconcile(me.roles);
  const open = (data: ReconciliationItem) => acts && data.status !== "LINKED";
  const back = reconciliationListPath(me.roles);
  return (
    <DetailPage back={back} backLabel={t("reconciliation.tab")} query={item}>
      {(data) => (
        <>
          <RecordHeader
            title={[modalityText(data.modality), data.description || t("reconciliation.untitled")].filter(Boolean).join(" · ")}
            aside={<StatusBadge value={data.status} />}
            footer={
              data.status === "LINKED" ? (
                <Alert color="green" mt="xs" data-testid="reconcile-reason">
                  {t("reconciliation.resolved")}{" "}
                  {can.seeImaging(me.roles) && (
                    <Anchor component={Link} to={`/radiology/studies/${data.id}`} size="sm">
                      {t("reconciliation.openStudy")}
                    </Anchor>
                  )}
                </Alert>
              ) : (
                <Alert color={data.status === "CONFLICT" ? "red" : "orange"} mt="xs" data-testid="reconcile-reason">
                  {t(`reconciliation.explain.${data.status}`)} {data.reason}
                </Alert>
              )
            }
          />
          <Grid>
            <Grid.Col span={{ base: 12, md: 6 }}>
              <DicomIdentityCard item={data} showThumbnail={can.seeImaging(me.roles)} />
            </Grid.Col>
            <Grid.Col span={{ base: 12, md: 6 }}>
              <Stack>
                {data.existing_study && <ExistingStudyCard existing={data.existing_study} onChoose={setChosen} canChoose={open(data)} />}
                <Card withBorder>
                  <Title order={5} mb="xs">
                    {t("reconciliation.emrCandidates")}
                  </Title>
                  <CandidateTable candidates={data.candidates} chosen={chosen?.id ?? null} onChoose={setChosen} canChoose={open(data)} />
                  {open(data) && <PatientSearch onChoose={setChosen} />}
                </Card>
              </Stack>
            </Grid.Col>
          </Grid>
          {open(data) ? <ResolveForm item={data} chosen={chosen} back={back} /> : !acts && <Text c="dimmed">{t("reconciliation.readOnly")}</Text>}
        </>
      )}
    </DetailPage>
  );
}
