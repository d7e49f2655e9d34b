import { Alert, Badge, Group, Loader, Select, Slider, Switch, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";

import type { SegOverlay } from "./useSegOverlay";

/** Where the chosen overlay stands. */
export type OverlayState = "none" | "loading" | "shown" | "error";

export interface OverlayControlsProps {
  choices: { key: string; label: string }[];
  value: string | null;
  onChange: (key: string | null) => void;
  state: OverlayState;
  error: string | null;
  visible: boolean;
  onVisibleChange: (visible: boolean) => void;
  opacity: number;
  onOpacityChange: (opacity: number) => void;
}

/** The controls' props from useSegOverlay's answer. */
export function overlayControls(overlay: SegOverlay): Omit<OverlayControlsProps, "choices"> {
  return {
    value: overlay.key,
    onChange: overlay.setKey,
    state: overlay.state,
    error: overlay.error,
    visible: overlay.visible,
    onVisibleChange: overlay.setVisible,
    opacity: overlay.opacity,
    onOpacityChange: overlay.setOpacity,
  };
}

/** Which SEG overlay, shown or hidden, how opaque, and how it stands (loading, shown, failed). */
export function OverlayControls({ choices, value, onChange, state, error, visible, onVisibleChange, opacity, onOpacityChange }: OverlayControlsProps) {
  const { t } = useTranslation();
  const shown = state === "shown";
  return (
    <>
      <Group gap="md" align="center">
        <Select
          size="xs"
          placeholder={choices.length ? t("viewer.chooseOverlay") : t("viewer.noOverlay")}
          data={choices.map((choice) => ({ value: choice.key, label: choice.label }))}
          value={value}
          onChange={onChange}
          clearable
          disabled={!choices.length}
          w={280}
          aria-label={t("viewer.overlay")}
        />
        <Switch size="sm" label={t("viewer.showOverlay")} checked={visible} onChange={(event) => onVisibleChange(event.currentTarget.checked)} disabled={!shown} />
        <Group gap={6} w={220} wrap="nowrap">
          <Text size="xs">{t("viewer.opacity")}</Text>
          <Slider style={{ flex: 1 }} min={0} max={1} step={0.05} value={opacity} onChange={onOpacityChange} disabled={!shown} thumbLabel={t("viewer.opacity")} />
        </Group>
        {state === "loading" && <Loader size="xs" />}
        {shown && <Badge color="grape">{t("viewer.overlayShown")}</Badge>}
      </Group>
      {state === "error" && <Alert color="orange">{t("viewer.overlayFailed", { detail: error })}</Alert>}
    </>
  );
}
