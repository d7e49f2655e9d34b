import { Alert, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";

/** Shown wherever an AI result is: the model card's own words (the API gives them in the user's language),
 * then ours, which say nothing about how any one model was trained. */
export function Disclaimer({ text }: { text?: string | null }) {
  const { t } = useTranslation();
  return (
    <Alert color="orange" variant="light" title={t("ai.disclaimerTitle")} data-testid="ai-disclaimer">
      {text ? <Text fw={600} size="sm" data-testid="ai-model-disclaimer">{text}</Text> : null}
      <Text size="sm">{t("ai.disclaimer")}</Text>
    </Alert>
  );
}
