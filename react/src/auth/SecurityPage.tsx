import { Alert, Button, Paper, Stack, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { TwoFactorEnrolment } from "./TwoFactorEnrolment";

/** Anyone signed in may enrol an authenticator (ADMIN and OPS already did at their first sign-in), or
 * replace theirs: from then on their sign-in asks for its code too. */
export function SecurityPage() {
  const { t } = useTranslation();
  const [stage, setStage] = useState<"idle" | "enrolling" | "done">("idle");
  return (
    <Paper withBorder p="xl" maw={520}>
      {stage === "enrolling" ? (
        <TwoFactorEnrolment onDone={() => setStage("done")} />
      ) : (
        <Stack>
          <Title order={3}>{t("twoFactor.pageTitle")}</Title>
          <Text size="sm">{t("twoFactor.pageIntro")}</Text>
          {stage === "done" && (
            <Alert color="green" data-testid="otp-enrolled">
              {t("twoFactor.enrolled")}
            </Alert>
          )}
          <Button onClick={() => setStage("enrolling")}>{t("twoFactor.start")}</Button>
        </Stack>
      )}
    </Paper>
  );
}
