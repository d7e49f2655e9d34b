import { Alert, Button, Group, Select, Stack, Text } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";

import { useAiModels, useRequestAnalysis } from "../../api/ai";
import type { AiModel, AiTask, JobRequest } from "../../api/ai";
import { QueryState } from "../../components/QueryState";

const modelKey = (model: AiModel) => (model.version ? `${model.name}@${model.version}` : model.name);

/** Choose a model of the task from /api/ai/models and request the analysis; opens the job page. */
export function RequestAnalysis({ task, input, disabled }: { task: AiTask; input: Omit<JobRequest, "model">; disabled?: boolean }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const models = useAiModels(task);
  const request = useRequestAnalysis();
  const [choice, setChoice] = useState<string | null>(null);
  return (
    <QueryState query={models}>
      {(list) =>
        list.length === 0 ? (
          <Text c="dimmed">{t("ai.noModels")}</Text>
        ) : (
          <Stack gap={4}>
            <Group align="end">
              <Select
                label={t("ai.model")}
                data={list.map((model) => ({ value: modelKey(model), label: `${model.name} ${model.version ?? ""}` }))}
                value={choice ?? modelKey(list[0])}
                onChange={setChoice}
                allowDeselect={false}
                w={280}
              />
              <Button
                disabled={disabled}
                loading={request.isPending}
                onClick={() => {
                  const [name, version] = (choice ?? modelKey(list[0])).split("@");
                  request.mutate({ ...input, model: name, model_version: version ?? "" }, { onSuccess: (job) => navigate(`/ai/jobs/${job.id}`) });
                }}
              >
                {t("ai.request")}
              </Button>
              {request.isError && (
                <Alert color="red" role="alert" py={6}>
                  {t("errors.generic", { detail: request.error.message })}
                </Alert>
              )}
            </Group>
            {(() => {
              const key = choice ?? modelKey(list[0]);
              const model = list.find((item) => modelKey(item) === key);
              return model?.disclaimer ? (
                <Text size="xs" c="orange">
                  {model.disclaimer}
                </Text>
              ) : null;
            })()}
          </Stack>
        )
      }
    </QueryState>
  );
}
