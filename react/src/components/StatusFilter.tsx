import { Select } from "@mantine/core";
import { useTranslation } from "react-i18next";

/** A list page's filter on a status: the given statuses in the words StatusBadge shows; cleared, every status. */
export function StatusFilter({
  statuses,
  value,
  onChange,
  label = "radiology.status",
  w = 180,
}: {
  statuses: readonly string[];
  value: string | null;
  onChange: (value: string | null) => void;
  /** i18n key of the field's label. */
  label?: string;
  w?: number;
}) {
  const { t } = useTranslation();
  return (
    <Select
      label={t(label)}
      clearable
      data={statuses.map((status) => ({ value: status, label: t(`status.${status}`) }))}
      value={value}
      onChange={onChange}
      w={w}
    />
  );
}
