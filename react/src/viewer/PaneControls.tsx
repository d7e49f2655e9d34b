import { Group, SegmentedControl, Select, Switch } from "@mantine/core";
import { useTranslation } from "react-i18next";

import { LAYOUTS } from "./layout";
import type { Layout } from "./layout";
import type { PresetKey } from "./presets";

export interface PaneControlsProps {
  layout: Layout;
  onLayoutChange: (layout: Layout) => void;
  sync: boolean;
  onSyncChange: (sync: boolean) => void;
  /** The window presets offered for the active pane's modality. */
  presets: PresetKey[];
  onPreset: (key: PresetKey) => void;
}

/** The pane grid's layout, synchronised scrolling, and the window presets (applied to every pane). */
export function PaneControls({ layout, onLayoutChange, sync, onSyncChange, presets, onPreset }: PaneControlsProps) {
  const { t } = useTranslation();
  return (
    <Group gap="md" data-testid="pane-controls">
      <SegmentedControl
        size="xs"
        value={layout}
        onChange={(next) => onLayoutChange(next as Layout)}
        data={LAYOUTS.map((value) => ({ value, label: value.replace("x", "×") }))}
        aria-label={t("viewer.layout")}
      />
      <Switch size="sm" label={t("viewer.syncScroll")} checked={sync} onChange={(event) => onSyncChange(event.currentTarget.checked)} />
      <Select
        size="xs"
        w={200}
        value={null}
        placeholder={t("viewer.windowPreset")}
        aria-label={t("viewer.windowPreset")}
        data={presets.map((key) => ({ value: key, label: t(`viewer.preset.${key}`) }))}
        onChange={(key) => key && onPreset(key as PresetKey)}
      />
    </Group>
  );
}
