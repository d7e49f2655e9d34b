import { Alert } from "@mantine/core";
import { useTranslation } from "react-i18next";

/** Shown wherever an AI result is: the model's own words (from the result) and ours. */
export function Disclaimer({ text }: { text?: string | null }) {
  const { t } = useTranslation();
  return (
    <Alert color="orange" variant="light" title={t("ai.disclaimerTitle")} data-testid="ai-disclaimer">
      {t("ai.disclaimer")}
      {text ? ` (${text})` : ""}
    </Alert>
  );
}
