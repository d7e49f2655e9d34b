import { Button, Group, Stack, Textarea } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { useResolveStudy } from "../../api/radiology";
import { ResolveError } from "./ReconcileParts";

/** A RIB takes a study off a wrong patient, saying why: it goes back to RECONCILE (and AI waits again). */
export function UnlinkStudy({ studyId }: { studyId: number }) {
  const { t } = useTranslation();
  const resolve = useResolveStudy(studyId);
  const [open, setOpen] = useState(false);
  const [comment, setComment] = useState("");
  if (!open) {
    return (
      <Button size="xs" variant="subtle" color="red" mt="xs" onClick={() => setOpen(true)}>
        {t("reconciliation.unlink")}
      </Button>
    );
  }
  return (
    <Stack gap="xs" mt="xs" data-testid="unlink">
      <Textarea label={t("reconciliation.comment")} description={t("reconciliation.unlinkHelp")} required value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={2} maxLength={2000} />
      <Group>
        <Button color="red" disabled={!comment.trim()} loading={resolve.isPending} onClick={() => resolve.mutate({ action: "unlink", comment: comment.trim() }, { onSuccess: () => setOpen(false) })}>
          {t("reconciliation.confirmUnlink")}
        </Button>
        <Button variant="default" onClick={() => setOpen(false)}>
          {t("reconciliation.cancel")}
        </Button>
      </Group>
      {resolve.isError && <ResolveError error={resolve.error} />}
    </Stack>
  );
}
