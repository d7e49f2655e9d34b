import { Anchor, Button, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";

import { useAiJob, useCancelJob } from "../../api/ai";
import type { Me } from "../../api/types";
import { can } from "../../auth/roles";
import { DetailPage, RecordHeader } from "../../components/DetailPage";
import { JobProgress } from "./JobProgress";
import { ResultView } from "./ResultView";

export function AiJobPage({ me }: { me: Me }) {
  const { t } = useTranslation();
  const { jobId = "" } = useParams();
  const job = useAiJob(jobId);
  const cancel = useCancelJob();
  return (
    <DetailPage back="/ai/jobs" backLabel={t("ai.jobs")} query={job}>
      {(data) => (
        <>
          <RecordHeader
            title={`${t(`ai.tasks.${data.task ?? "segmentation"}`, { defaultValue: data.task })} · ${data.model_name} ${data.model_version}`}
            aside={
              (data.status === "QUEUED" || data.status === "RUNNING") &&
              can.requestAnalysis(me.roles) && (
                <Button variant="default" loading={cancel.isPending} onClick={() => cancel.mutate(data.id)}>
                  {t("ai.cancel")}
                </Button>
              )
            }
            footer={<JobProgress job={data} />}
          >
            <Text size="sm" c="dimmed">
              {t("ai.requested", { at: new Date(data.created_at).toLocaleString(), user: data.requested_by ?? "" })}
            </Text>
            {data.study && (
              <Anchor component={Link} to={`/radiology/studies/${data.study}`} size="sm">
                {t("ai.openStudy")}
              </Anchor>
            )}
            {data.patient && (
              <Anchor component={Link} to={`/patients/${data.patient}`} size="sm">
                {t("ai.openPatient")}
              </Anchor>
            )}
          </RecordHeader>
          {data.result && <ResultView job={data} result={data.result} canReview={can.reviewAiResults(me.roles)} username={me.username} />}
        </>
      )}
    </DetailPage>
  );
}
