import { AppShell, Badge, Button, Group, Indicator, NavLink, Popover, ScrollArea, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, Outlet, useLocation, useNavigate } from "react-router";

import { useLogout } from "../api/hooks";
import type { Me } from "../api/types";
import { can } from "../auth/roles";
import { toggleLanguage } from "../i18n";
import { NotificationList } from "../notifications/NotificationList";
import { useNotifications } from "../notifications/NotificationsProvider";

interface Item {
  to: string;
  label: string;
  show: boolean;
  exact?: boolean;
}

/** The links a role gets: a NURSE has no upload, an OPS user nothing with patient data. */
export function navItems(roles: readonly string[], t: (key: string) => string): Item[] {
  return [
    { to: "/patients", label: t("nav.patients"), show: can.seePatients(roles) },
    { to: "/worklist", label: t("nav.signOff"), show: can.seeSignOffWorklist(roles) },
    { to: "/radiology", label: t("nav.worklist"), show: can.seeImaging(roles), exact: true },
    { to: "/radiology/upload", label: t("nav.upload"), show: can.uploadDicom(roles) },
    // RIB staff reach it from the worklist's tab; an ADMIN, who has no worklist, from here
    { to: "/radiology/reconciliation", label: t("nav.reconciliation"), show: can.seeReconciliation(roles) && !can.seeImaging(roles) },
    { to: "/ai/jobs", label: t("nav.analyses"), show: can.seeAnalyses(roles) },
    { to: "/ai/expression", label: t("nav.omics"), show: can.requestAnalysis(roles) },
    { to: "/manage/audit", label: t("nav.audit"), show: can.administer(roles) },
    { to: "/manage/fhir", label: t("nav.fhir"), show: can.administer(roles) },
    { to: "/manage/rules", label: t("nav.rules"), show: can.administer(roles) },
    { to: "/ops", label: t("nav.ops"), show: can.seeOperations(roles) },
    { to: "/notifications", label: t("nav.notifications"), show: true },
  ].filter((item) => item.show);
}

function NotificationBell() {
  const { t } = useTranslation();
  const { unread, markAllRead } = useNotifications();
  const [opened, setOpened] = useState(false);
  return (
    <Popover
      width={380}
      position="bottom-end"
      opened={opened}
      onChange={(next) => {
        setOpened(next);
        if (!next) markAllRead();
      }}
    >
      <Popover.Target>
        <Indicator label={unread} size={16} disabled={unread === 0} color="red" data-testid="unread-badge">
          <Button size="xs" variant="subtle" onClick={() => setOpened((open) => !open)} aria-label={t("notifications.title")}>
            {t("notifications.title")}
          </Button>
        </Indicator>
      </Popover.Target>
      <Popover.Dropdown>
        <ScrollArea.Autosize mah={400}>
          <NotificationList onNavigate={() => setOpened(false)} />
        </ScrollArea.Autosize>
      </Popover.Dropdown>
    </Popover>
  );
}

export function Layout({ me }: { me: Me }) {
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  const logout = useLogout();
  const roles = me.roles ?? [];

  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: "sm" }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Title order={4}>{t("app.title")}</Title>
          <Group gap="xs">
            <NotificationBell />
            {roles.map((role) => (
              <Badge key={role} variant="light">
                {role}
              </Badge>
            ))}
            <span data-testid="username">{me.username}</span>
            <Button size="xs" variant="subtle" onClick={toggleLanguage}>
              {t("app.language")}
            </Button>
            <Button size="xs" variant="default" onClick={() => logout.mutate(undefined, { onSettled: () => navigate("/login") })}>
              {t("app.signOut")}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label={t("nav.label")}>
        {navItems(roles, t).map((item) => (
          <NavLink
            key={item.to}
            component={Link}
            to={item.to}
            label={item.label}
            active={item.exact ? location.pathname === item.to || location.pathname.startsWith(`${item.to}/studies`) : location.pathname.startsWith(item.to)}
          />
        ))}
        {can.administer(roles) && <NavLink href="/admin/" label={t("nav.admin")} />}
        <NavLink component={Link} to="/account/security" label={t("nav.security")} active={location.pathname === "/account/security"} />
        <NavLink href="/api/docs" label={t("nav.apiDocs")} />
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
