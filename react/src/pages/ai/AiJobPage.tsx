import { Anchor, Button, Card, Group, Stack, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";

import { useAiJob, useCancelJob } from "../../api/ai";
import type { Me } from "../../api/types";
import { can } from "../../auth/roles";
import { QueryState } from "../../components/QueryState";
import { JobProgress } from "./JobProgress";
import { ResultView } from "./ResultView";

export function AiJobPage({ me }: { me: Me }) {
  const { t } = useTranslation();
  const { jobId = "" } = useParams();
  const job = useAiJob(jobId);
  const cancel = useCancelJob();
  return (
    <Stack>
      <Anchor component={Link} to="/ai/jobs">
        ← {t("ai.jobs")}
      </Anchor>
      <QueryState query={job}>
        {(data) => (
          <Stack>
            <Card withBorder>
              <Group justify="space-between">
                <Stack gap={2}>
                  <Title order={3}>
                    {t(`ai.tasks.${data.task ?? "segmentation"}`, { defaultValue: data.task })} · {data.model_name} {data.model_version}
                  </Title>
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
                </Stack>
                {(data.status === "QUEUED" || data.status === "RUNNING") && can.requestAnalysis(me.roles) && (
                  <Button variant="default" loading={cancel.isPending} onClick={() => cancel.mutate(data.id)}>
                    {t("ai.cancel")}
                  </Button>
                )}
              </Group>
              <JobProgress job={data} />
            </Card>
            {data.result && <ResultView job={data} result={data.result} canReview={can.reviewAiResults(me.roles)} />}
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
