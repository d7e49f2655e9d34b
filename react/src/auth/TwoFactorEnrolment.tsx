import { Alert, Button, Code, List, Stack, Text, TextInput, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import type { FormEvent } from "react";
import { useTranslation } from "react-i18next";

import type { Me } from "../api/types";
import { useEnrolmentConfirm, useEnrolmentStart } from "./twoFactor";

/** Enrol an authenticator app: its secret (as text and as the otpauth URI an app can import), then the
 * first code to confirm it, then the recovery codes, shown once. `onDone` gets the signed-in user. */
export function TwoFactorEnrolment({ onDone }: { onDone: (me: Me) => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const start = useEnrolmentStart();
  const confirm = useEnrolmentConfirm();
  const [code, setCode] = useState("");

  const { mutate: begin } = start;
  const begun = useRef(false); // once: a second start would replace the secret already on screen
  useEffect(() => {
    if (!begun.current) {
      begun.current = true;
      begin();
    }
  }, [begin]);

  function submit(event: FormEvent) {
    event.preventDefault();
    confirm.mutate(code.trim());
  }

  if (confirm.data) {
    const { recovery_codes: codes, user } = confirm.data;
    return (
      <Stack>
        <Title order={4}>{t("twoFactor.recoveryTitle")}</Title>
        <Text size="sm">{t("twoFactor.recoveryIntro")}</Text>
        <List data-testid="recovery-codes" ff="monospace">
          {codes.map((value) => (
            <List.Item key={value}>{value}</List.Item>
          ))}
        </List>
        <Button
          onClick={() => {
            client.setQueryData(["me"], user);
            onDone(user);
          }}
        >
          {t("twoFactor.continue")}
        </Button>
      </Stack>
    );
  }
  return (
    <form onSubmit={submit}>
      <Stack>
        <Title order={4}>{t("twoFactor.title")}</Title>
        <Text size="sm">{t("twoFactor.intro")}</Text>
        {start.isError && <Alert color="red" role="alert">{t("twoFactor.startFailed")}</Alert>}
        {start.data && (
          <>
            <Text size="sm" fw={500}>
              {t("twoFactor.secret")}
            </Text>
            <Code data-testid="otp-secret">{start.data.secret}</Code>
            <Text size="sm" fw={500}>
              {t("twoFactor.uri")}
            </Text>
            <Code block data-testid="otp-uri" style={{ wordBreak: "break-all", whiteSpace: "pre-wrap" }}>
              {start.data.otpauth_uri}
            </Code>
          </>
        )}
        {confirm.isError && <Alert color="red" role="alert">{t("login.codeFailed")}</Alert>}
        <TextInput
          label={t("login.code")}
          value={code}
          onChange={(e) => setCode(e.currentTarget.value)}
          required
          autoComplete="one-time-code"
          inputMode="numeric"
        />
        <Button type="submit" loading={confirm.isPending} disabled={!start.data}>
          {t("twoFactor.confirm")}
        </Button>
      </Stack>
    </form>
  );
}
