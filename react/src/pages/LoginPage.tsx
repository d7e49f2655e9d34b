import { Alert, Anchor, Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import type { FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate } from "react-router";

import { ApiError } from "../api/client";
import type { Me } from "../api/types";
import { homePath } from "../auth/roles";
import { TwoFactorEnrolment } from "../auth/TwoFactorEnrolment";
import { isSecondStep, useCodeStep, usePasswordStep } from "../auth/twoFactor";

export function LoginPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const params = new URLSearchParams(useLocation().search);
  const expired = params.has("expired");
  const next = params.get("next");
  const login = usePasswordStep();
  const codeStep = useCodeStep();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");

  // back where the session expired, if that was a page inside the app; else the role's first screen
  function enter(me: Me) {
    const safeNext = next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : null;
    navigate(safeNext ?? homePath(me.roles ?? []), { replace: true });
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    login.mutate({ username, password }, { onSuccess: (answer) => !isSecondStep(answer) && enter(answer) });
  }

  function submitCode(event: FormEvent) {
    event.preventDefault();
    codeStep.mutate(code.trim(), { onSuccess: enter });
  }

  function startOver() {
    login.reset();
    codeStep.reset();
    setCode("");
    setPassword("");
  }

  const step = login.data && isSecondStep(login.data) ? login.data : null;
  const locked = login.error instanceof ApiError && login.error.status === 429;
  return (
    <Center h="100vh">
      <Paper withBorder p="xl" w={420}>
        {step?.enrolment_required ? (
          <TwoFactorEnrolment onDone={enter} />
        ) : step?.otp_required ? (
          <form onSubmit={submitCode}>
            <Stack>
              <Title order={3}>{t("login.title")}</Title>
              <Text size="sm">{t("login.codeHint")}</Text>
              {codeStep.isError && <Alert color="red" role="alert">{t("login.codeFailed")}</Alert>}
              <TextInput
                label={t("login.code")}
                value={code}
                onChange={(e) => setCode(e.currentTarget.value)}
                required
                autoFocus
                autoComplete="one-time-code"
              />
              <Button type="submit" loading={codeStep.isPending}>
                {t("login.verify")}
              </Button>
              <Anchor component="button" type="button" size="sm" onClick={startOver}>
                {t("login.restart")}
              </Anchor>
            </Stack>
          </form>
        ) : (
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
        )}
      </Paper>
    </Center>
  );
}
