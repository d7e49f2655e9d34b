import { Group, Slider, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";

/** "slice / slices" and a slider across the stack (still with fewer than two slices). */
export function SliceSlider({ index, count, onChange }: { index: number; count: number; onChange: (index: number) => void }) {
  const { t } = useTranslation();
  return (
    <Group gap="xs" wrap="nowrap">
      <Text size="xs" w={90}>
        {count ? `${index + 1} / ${count}` : "—"}
      </Text>
      <Slider
        style={{ flex: 1 }}
        min={0}
        max={Math.max(0, count - 1)}
        value={index}
        onChange={onChange}
        disabled={count < 2}
        label={(slice) => slice + 1}
        thumbLabel={t("viewer.slice")}
      />
    </Group>
  );
}
