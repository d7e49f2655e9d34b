import { Alert, Anchor, Card, Group, Stack, Text, Title } from "@mantine/core";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";

import { useAiJobs } from "../../api/ai";
import { modalityText, useStudy } from "../../api/radiology";
import type { Me, StudyDetail } from "../../api/types";
import { can } from "../../auth/roles";
import { DetailPage, RecordHeader } from "../../components/DetailPage";
import { QueryState } from "../../components/QueryState";
import { StatusBadge } from "../../components/StatusBadge";
import { requestStudyViewer } from "../../viewer/readAhead";
import { usePriorStudies } from "../../viewer/usePriorStudies";
import { LazyPriorComparison, LazyStudyViewer } from "../../viewer/ViewerLoader";
import { PriorPicker } from "./PriorPicker";
import { reconcilePath } from "./ReconciliationList";
import { StudyMeasurements } from "./StudyMeasurements";
import { UnlinkStudy } from "./UnlinkStudy";
import { JobTable } from "../ai/AiJobsPage";
import { RequestAnalysis } from "../ai/RequestAnalysis";

/** Analyses of the study; AI runs only on a study linked to a patient (the API refuses the others). */
function StudyAnalyses({ studyId, linked, me }: { studyId: number; linked: boolean; me: Me }) {
  const { t } = useTranslation();
  const jobs = useAiJobs({ study: studyId });
  return (
    <Card withBorder>
      <Title order={5} mb="xs">
        {t("ai.analyses")}
      </Title>
      <Stack>
        {can.requestAnalysis(me.roles) && <RequestAnalysis task="segmentation" input={{ study: studyId }} disabled={!linked} />}
        <QueryState query={jobs}>{(data) => <JobTable jobs={data.results} />}</QueryState>
      </Stack>
    </Card>
  );
}

/** The study in the viewer, or beside a prior of the same patient once "Compare with prior" is chosen. */
function StudyImages({ study, canSaveMeasurements }: { study: StudyDetail; canSaveMeasurements: boolean }) {
  const { priors, loading } = usePriorStudies(study);
  const [priorId, setPriorId] = useState<number | null>(null);
  const prior = priors.find((item) => item.id === priorId);
  return (
    <Stack gap="xs">
      <Group>
        <PriorPicker priors={priors} loading={loading} value={prior ? prior.id : null} onChange={setPriorId} />
      </Group>
      {prior ? (
        <LazyPriorComparison key={prior.id} current={study} prior={prior} />
      ) : (
        <LazyStudyViewer studyId={study.id} studyUid={study.study_instance_uid} series={study.series} canSaveMeasurements={canSaveMeasurements} />
      )}
    </Stack>
  );
}

export function StudyPage({ me }: { me: Me }) {
  const { t } = useTranslation();
  const { studyId = "" } = useParams();
  const id = Number(studyId);
  const study = useStudy(id);
  useEffect(requestStudyViewer, []); // its code travels while the study is read
  return (
    <DetailPage back="/radiology" backLabel={t("radiology.worklist")} query={study}>
      {(data) => (
        <>
          <RecordHeader
            title={`${modalityText(data.modality)} · ${data.description || data.study_instance_uid}`}
            aside={<StatusBadge value={data.status} />}
            footer={
              data.status === "LINKED" ? (
                can.reconcile(me.roles) && <UnlinkStudy studyId={data.id} />
              ) : (
                <Alert color={data.status === "RECONCILE" ? "orange" : "red"} mt="xs">
                  {t("radiology.reconcile", { reason: data.reconciliation_reason })}{" "}
                  {can.reconcile(me.roles) && (
                    <Anchor component={Link} to={reconcilePath(data.id)} size="sm">
                      {t("reconciliation.open")}
                    </Anchor>
                  )}
                </Alert>
              )
            }
          >
            <Text size="sm">
              {t("radiology.studyDate")}: {data.study_date ?? t("radiology.noDate")} · {t("radiology.accession")}: {data.accession_number || "—"} ·{" "}
              {t("radiology.seriesInstances")}: {data.number_of_series} / {data.number_of_instances}
            </Text>
            <Text size="sm">
              {t("radiology.dicomPatient")}: {data.dicom_patient_name} ({data.dicom_patient_id}){" "}
              {data.patient && (
                <Anchor component={Link} to={`/patients/${data.patient}`} size="sm">
                  {t("radiology.openPatient")}
                </Anchor>
              )}
            </Text>
          </RecordHeader>
          {data.in_pacs ? (
            <>
              <StudyImages study={data} canSaveMeasurements={can.saveMeasurements(me.roles)} />
              <StudyMeasurements studyId={data.id} />
            </>
          ) : (
            <Alert color="orange">{t("radiology.notInPacs")}</Alert>
          )}
          <StudyAnalyses studyId={data.id} linked={data.status === "LINKED"} me={me} />
        </>
      )}
    </DetailPage>
  );
}
