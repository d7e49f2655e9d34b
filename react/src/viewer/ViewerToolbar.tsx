import { Button, Group, SegmentedControl, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";

import type { Tool } from "./tools";

export interface ViewerToolbarProps {
  tool: Tool;
  onToolChange: (tool: Tool) => void;
  onReset: () => void;
  /** A series is on its way. */
  loading: boolean;
  /** Save the lengths and ellipses drawn (shown to the roles that may). */
  onSaveMeasurements?: () => void;
  saving?: boolean;
  /** The multiplanar reformat in place of the stack, and its switch. */
  mpr?: boolean;
  onMprChange?: (on: boolean) => void;
}

/** The left button's tool, the reset, a spinner while a series loads, and what the other buttons do. */
export function ViewerToolbar({ tool, onToolChange, onReset, loading, onSaveMeasurements, saving = false, mpr = false, onMprChange }: ViewerToolbarProps) {
  const { t } = useTranslation();
  return (
    <Group gap="xs">
      <SegmentedControl
        size="xs"
        value={tool}
        onChange={(next) => onToolChange(next as Tool)}
        data={[
          { value: "wl", label: t("viewer.windowLevel") },
          { value: "pan", label: t("viewer.pan") },
          { value: "zoom", label: t("viewer.zoom") },
          { value: "length", label: t("viewer.length") },
          { value: "ellipse", label: t("viewer.ellipse") },
        ]}
      />
      <Button size="xs" variant="default" onClick={onReset}>
        {t("viewer.reset")}
      </Button>
      {onMprChange && (
        <Button size="xs" variant={mpr ? "filled" : "default"} aria-pressed={mpr} onClick={() => onMprChange(!mpr)}>
          {t("viewer.mpr.toggle")}
        </Button>
      )}
      {onSaveMeasurements && (
        <Button size="xs" onClick={onSaveMeasurements} loading={saving}>
          {t("viewer.saveMeasurements")}
        </Button>
      )}
      {/* words, not a spinner: without a GPU an endless animation keeps the page redrawing (measured: seconds on
          a four-pane exam's load) */}
      {loading && (
        <Text size="xs" c="dimmed" data-testid="viewer-loading">
          {t("viewer.loadingImages")}
        </Text>
      )}
      <Text size="xs" c="dimmed">
        {t("viewer.mouseHelp")}
      </Text>
    </Group>
  );
}
