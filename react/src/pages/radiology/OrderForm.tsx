import { Alert, Button, Select, Stack, TextInput, Textarea } from "@mantine/core";
import { useState } from "react";
import type { FormEvent } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import { MODALITIES, PRIORITIES, useCreateOrder } from "../../api/radiology";
import type { Order, Priority } from "../../api/types";

/** Order imaging for one patient (DOCTOR). Field errors from the API are shown under their fields. */
export function OrderForm({ patient, onDone }: { patient: string; onDone: (order: Order) => void }) {
  const { t } = useTranslation();
  const create = useCreateOrder();
  const [modality, setModality] = useState<string | null>("MR");
  const [bodyPart, setBodyPart] = useState("BRAIN");
  const [reason, setReason] = useState("");
  const [priority, setPriority] = useState<string | null>("ROUTINE");

  const fields = (create.error instanceof ApiError ? create.error.body?.fields : undefined) as Record<string, string[] | string> | undefined;
  const fieldError = (name: string) => {
    const value = fields?.[name];
    return Array.isArray(value) ? value.join(" ") : value;
  };

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate(
      { patient, modality: modality ?? "", body_part: bodyPart.trim(), reason: reason.trim(), priority: (priority ?? "ROUTINE") as Priority },
      { onSuccess: onDone },
    );
  }

  return (
    <form onSubmit={submit}>
      <Stack>
        {create.isError && !fields && (
          <Alert color="red" role="alert">
            {t("errors.generic", { detail: create.error.message })}
          </Alert>
        )}
        <Select label={t("radiology.modality")} data={[...MODALITIES]} value={modality} onChange={setModality} required allowDeselect={false} error={fieldError("modality")} />
        <TextInput label={t("radiology.bodyPart")} value={bodyPart} onChange={(e) => setBodyPart(e.currentTarget.value)} required maxLength={64} error={fieldError("body_part")} />
        <Textarea label={t("radiology.reason")} value={reason} onChange={(e) => setReason(e.currentTarget.value)} required maxLength={2000} autosize minRows={2} error={fieldError("reason")} />
        <Select
          label={t("radiology.priority")}
          data={PRIORITIES.map((value) => ({ value, label: t(`status.${value}`) }))}
          value={priority}
          onChange={setPriority}
          allowDeselect={false}
          error={fieldError("priority")}
        />
        <Button type="submit" loading={create.isPending}>
          {t("radiology.placeOrder")}
        </Button>
      </Stack>
    </form>
  );
}
