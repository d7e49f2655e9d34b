import { Alert, Button, Center, Paper, PasswordInput, Stack, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import type { FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate } from "react-router";

import { ApiError } from "../api/client";
import { useLogin } from "../api/hooks";
import { homePath } from "../auth/roles";

export function LoginPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const params = new URLSearchParams(useLocation().search);
  const expired = params.has("expired");
  const next = params.get("next");
  const login = useLogin();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");

  function submit(event: FormEvent) {
    event.preventDefault();
    // back where the session expired, if that was a page inside the app; else the role's first screen
    const safeNext = next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : null;
    login.mutate({ username, password }, { onSuccess: (me) => navigate(safeNext ?? homePath(me.roles ?? []), { replace: true }) });
  }

  const locked = login.error instanceof ApiError && login.error.status === 429;
  return (
    <Center h="100vh">
      <Paper withBorder p="xl" w={380}>
        <form onSubmit={submit}>
          <Stack>
            <Title order={3}>{t("login.title")}</Title>
            {expired && !login.isError && (
              <Alert color="yellow" data-testid="session-expired">
                {t("login.expired")}
              </Alert>
            )}
            {login.isError && <Alert color="red" role="alert">{locked ? t("login.locked") : t("login.failed")}</Alert>}
            <TextInput label={t("login.username")} value={username} onChange={(e) => setUsername(e.currentTarget.value)} required autoComplete="username" />
            <PasswordInput label={t("login.password")} value={password} onChange={(e) => setPassword(e.currentTarget.value)} required autoComplete="current-password" />
            <Button type="submit" loading={login.isPending}>
              {t("login.submit")}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
