import { Button, Group, Stack, Text, Title } from "@mantine/core";
import { useEffect } from "react";
import { useTranslation } from "react-i18next";

import { NotificationList } from "./NotificationList";
import { useNotifications } from "./NotificationsProvider";

export function NotificationsPage() {
  const { t } = useTranslation();
  const { connected, markAllRead, clear } = useNotifications();
  useEffect(() => markAllRead(), [markAllRead]);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={3}>{t("notifications.title")}</Title>
        <Group>
          <Text size="sm" c={connected ? "green" : "dimmed"}>
            {connected ? t("notifications.live") : t("notifications.offline")}
          </Text>
          <Button size="xs" variant="default" onClick={clear}>
            {t("notifications.clear")}
          </Button>
        </Group>
      </Group>
      <NotificationList />
    </Stack>
  );
}
