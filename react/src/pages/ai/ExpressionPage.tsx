import { Alert, Card, FileInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";

import { useUploadExpression } from "../../api/ai";
import { RequestAnalysis } from "./RequestAnalysis";

/** Omics risk: upload an expression profile (CSV), then request the analysis on it. */
export function ExpressionPage() {
  const { t } = useTranslation();
  const upload = useUploadExpression();
  const [file, setFile] = useState<File | null>(null);
  const [params] = useSearchParams();
  const [patient, setPatient] = useState(params.get("patient") ?? "");
  return (
    <Stack>
      <Title order={3}>{t("ai.omicsTitle")}</Title>
      <Text size="sm" c="dimmed">
        {t("ai.omicsHint")}
      </Text>
      <Card withBorder>
        <Stack>
          <TextInput label={t("radiology.patientId")} required value={patient} onChange={(e) => setPatient(e.currentTarget.value)} w={320} />
          <FileInput
            label={t("ai.expressionFile")}
            accept=".csv,.tsv,text/csv,text/tab-separated-values"
            disabled={!patient.trim()}
            description={patient.trim() ? undefined : t("ai.patientFirst")}
            value={file}
            onChange={(next) => {
              setFile(next);
              upload.reset();
              if (next && patient.trim()) upload.mutate({ file: next, patient: patient.trim() });
            }}
            w={320}
          />
          {upload.isPending && <Text size="sm">{t("upload.sending")}</Text>}
          {upload.isError && (
            <Alert color="red" role="alert">
              {t("errors.generic", { detail: upload.error.message })}
            </Alert>
          )}
          {upload.data && (
            <>
              <Text size="sm" c="green">
                {t("ai.expressionUploaded", { name: upload.data.original_name, rows: upload.data.rows, columns: upload.data.columns })}
              </Text>
              <RequestAnalysis task="omics-risk" input={{ expression_upload: upload.data.id }} />
            </>
          )}
        </Stack>
      </Card>
    </Stack>
  );
}
