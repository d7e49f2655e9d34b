import { Anchor, Badge, Group, Stack, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { useNotifications } from "./NotificationsProvider";

export function NotificationList({ onNavigate }: { onNavigate?: () => void }) {
  const { t } = useTranslation();
  const { notices } = useNotifications();
  if (!notices.length) return <Text c="dimmed">{t("notifications.empty")}</Text>;
  return (
    <Stack gap="sm" data-testid="notification-list">
      {notices.map((notice) => (
        <Stack key={notice.id} gap={2} style={{ opacity: notice.read ? 0.7 : 1 }}>
          <Group gap="xs">
            {!notice.read && <Badge size="xs" color="blue">{t("notifications.new")}</Badge>}
            <Text size="xs" c="dimmed">
              {new Date(notice.at).toLocaleString()}
            </Text>
          </Group>
          {notice.kind === "review" ? (
            <Text size="sm">
              {t("notifications.reviewed", { status: t(`status.${notice.status}`, { defaultValue: notice.status }) })}{" "}
              <Anchor component={Link} to={`/ai/jobs/${notice.jobId}`} onClick={onNavigate}>
                {t("notifications.openJob")}
              </Anchor>
            </Text>
          ) : notice.kind === "signoff" ? (
            <Text size="sm">
              {t("notifications.awaitingSignOff", { model: notice.name, priority: t(`status.${notice.status}`, { defaultValue: notice.status }) })}{" "}
              <Anchor component={Link} to={`/ai/jobs/${notice.jobId}`} onClick={onNavigate}>
                {t("notifications.openJob")}
              </Anchor>{" "}
              <Anchor component={Link} to="/worklist" onClick={onNavigate}>
                {t("nav.signOff")}
              </Anchor>
            </Text>
          ) : notice.kind === "conflict" ? (
            <Text size="sm" c="red">
              {t("notifications.conflict")}{" "}
              <Anchor component={Link} to={`/radiology/reconciliation/${notice.studyId}`} onClick={onNavigate}>
                {t("reconciliation.open")}
              </Anchor>
            </Text>
          ) : notice.kind === "job" ? (
            <Text size="sm" c={notice.status === "FAILED" ? "red" : undefined}>
              {notice.status === "FAILED" ? t("notifications.jobFailed") : t("notifications.jobFinished")}{" "}
              <Anchor component={Link} to={`/ai/jobs/${notice.jobId}`} onClick={onNavigate}>
                {t("notifications.openJob")}
              </Anchor>
              {notice.reason && <Text span size="sm"> — {notice.reason}</Text>}
            </Text>
          ) : (
            <Text size="sm" c={notice.status === "firing" ? "orange" : "green"}>
              {t(notice.status === "firing" ? "notifications.alertFiring" : "notifications.alertResolved", { name: notice.name })}
              {notice.severity && ` (${notice.severity})`}
              {notice.summary && ` — ${notice.summary}`}
            </Text>
          )}
        </Stack>
      ))}
    </Stack>
  );
}
