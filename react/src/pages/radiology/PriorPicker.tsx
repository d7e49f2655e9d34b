import { Button, Group, Loader, Select, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";

import { modalityText } from "../../api/radiology";
import type { StudyDetail } from "../../api/types";

export interface PriorPickerProps {
  /** The patient's earlier studies in the PACS, newest first. */
  priors: StudyDetail[];
  loading: boolean;
  /** The prior compared with (its id), or null when the viewer shows the current study alone. */
  value: number | null;
  onChange: (id: number | null) => void;
}

/** "Compare with prior": opens the comparison with the most recent earlier study; then any earlier study. */
export function PriorPicker({ priors, loading, value, onChange }: PriorPickerProps) {
  const { t } = useTranslation();
  if (loading) return <Loader size="xs" />;
  if (!priors.length) {
    return (
      <Text size="sm" c="dimmed" data-testid="no-prior">
        {t("viewer.noPrior")}
      </Text>
    );
  }
  if (value === null) {
    return (
      <Button size="xs" variant="light" onClick={() => onChange(priors[0].id)}>
        {t("viewer.compareWithPrior")}
      </Button>
    );
  }
  return (
    <Group gap="xs">
      <Select
        size="xs"
        w={320}
        aria-label={t("viewer.priorStudy")}
        data={priors.map((prior) => ({ value: String(prior.id), label: t("viewer.priorOption", { date: prior.study_date, description: prior.description || modalityText(prior.modality) }) }))}
        value={String(value)}
        onChange={(id) => id && onChange(Number(id))}
        allowDeselect={false}
      />
      <Button size="xs" variant="default" onClick={() => onChange(null)}>
        {t("viewer.closeCompare")}
      </Button>
    </Group>
  );
}
