import { AppShell, Badge, Button, Group, NavLink, Title } from "@mantine/core";
import { Link, Outlet, useLocation, useNavigate } from "react-router";
import { useTranslation } from "react-i18next";

import { useLogout } from "../api/hooks";
import type { Me } from "../api/types";
import { can } from "../auth/roles";
import { toggleLanguage } from "../i18n";

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
            {roles.map((role) => (
              <Badge key={role} variant="light">
                {role}
              </Badge>
            ))}
            <span>{me.username}</span>
            <Button size="xs" variant="subtle" onClick={toggleLanguage}>
              {t("app.language")}
            </Button>
            <Button size="xs" variant="default" onClick={() => logout.mutate(undefined, { onSettled: () => navigate("/login") })}>
              {t("app.signOut")}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        {can.seePatients(roles) && (
          <NavLink component={Link} to="/patients" label={t("nav.patients")} active={location.pathname.startsWith("/patients")} />
        )}
        {can.administer(roles) && <NavLink href="/admin/" label={t("nav.admin")} />}
        <NavLink href="/api/docs" label={t("nav.apiDocs")} />
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
