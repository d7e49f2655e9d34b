import { Group, Progress, Stack, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";

import type { AiJob } from "../../api/ai";
import { StatusBadge } from "../../components/StatusBadge";
import { useNotifications } from "../../notifications/NotificationsProvider";

/** Stage and percentage: pushed over the websocket while the job runs, else as the API last said. */
export function JobProgress({ job }: { job: AiJob }) {
  const { t } = useTranslation();
  const { progress } = useNotifications();
  const live = progress[job.id];
  const active = job.status === "QUEUED" || job.status === "RUNNING";
  const stage = live?.stage ?? job.progress?.stage ?? (job.status === "QUEUED" ? "queued" : "");
  const fraction = live?.fraction ?? job.progress?.fraction ?? (job.status === "COMPLETED" ? 1 : 0);
  const percent = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
  return (
    <Stack gap={4} data-testid="job-progress">
      <Group gap="xs">
        <StatusBadge value={live && job.status === "QUEUED" ? "RUNNING" : job.status} />
        {active && (
          <Text size="sm">
            {t(`ai.stages.${stage}`, { defaultValue: stage })} · {percent}%
          </Text>
        )}
      </Group>
      {active && <Progress value={percent} animated striped aria-label={t("ai.progress")} />}
      {job.status === "FAILED" && job.failure_reason && (
        <Text size="sm" c="red">
          {job.failure_reason}
        </Text>
      )}
    </Stack>
  );
}
