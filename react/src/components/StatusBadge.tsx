import { Badge } from "@mantine/core";
import { useTranslation } from "react-i18next";

const COLORS: Record<string, string> = {
  REQUESTED: "gray",
  SCHEDULED: "blue",
  IN_PROGRESS: "cyan",
  COMPLETED: "green",
  CANCELLED: "dark",
  LINKED: "green",
  RECONCILE: "orange",
  CONFLICT: "red",
  QUEUED: "gray",
  RUNNING: "blue",
  FAILED: "red",
  PRELIMINARY: "yellow",
  FINAL: "green",
  stored: "green",
  already_stored: "blue",
  rejected: "red",
  open: "red",
  replayed: "green",
  discarded: "gray",
  SUCCESS: "green",
  FAILURE: "red",
  DENIED: "orange",
  STAT: "red",
  URGENT: "orange",
  ROUTINE: "gray",
};

/** A coloured, translated status word. Unknown statuses show as they come. */
export function StatusBadge({ value }: { value: string }) {
  const { t } = useTranslation();
  return (
    <Badge color={COLORS[value] ?? "gray"} variant="light">
      {t(`status.${value}`, { defaultValue: value })}
    </Badge>
  );
}
