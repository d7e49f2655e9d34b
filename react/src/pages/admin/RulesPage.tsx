import { Alert, Badge, Button, Checkbox, Group, List, Modal, NumberInput, Select, Stack, Switch, Text, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import { useDeleteRoutingRule, useDryRun, useRoutingRules, useSaveRoutingRule } from "../../api/routing";
import type { RoutingRule, RoutingRuleInput } from "../../api/types";
import { DataTable, NOWRAP } from "../../components/DataTable";
import type { Column } from "../../components/DataTable";
import { QueryState } from "../../components/QueryState";

const SEQUENCES = ["T1", "T1c", "T2", "FLAIR"];
const EMPTY: RoutingRuleInput = {
  name: "", enabled: true, order: 100, modality: "MR", sequence_type: "", series_description: "", body_part: "", sending_ae: "",
  model_name: "mri-lesion-demo", model_version: "", requires_second_reader: false,
};
type TextField = "name" | "modality" | "series_description" | "body_part" | "sending_ae" | "model_name" | "model_version";
const TEXT_FIELDS: TextField[] = ["name", "modality", "series_description", "body_part", "sending_ae", "model_name", "model_version"];

/** The API's message for one field of a refused save (400 with fields), if any. */
function fieldError(error: unknown, field: string): string | undefined {
  const fields = error instanceof ApiError ? error.body?.fields : undefined;
  const value = fields?.[field];
  return Array.isArray(value) ? String(value[0]) : value === undefined ? undefined : String(value);
}

function DryRun({ rule, savedId }: { rule: RoutingRuleInput; savedId?: number }) {
  const { t } = useTranslation();
  const [study, setStudy] = useState<string | number>("");
  const dryRun = useDryRun();
  const result = dryRun.data;
  return (
    <Stack gap="xs">
      <Group align="end">
        <NumberInput label={t("rules.dryRunStudy")} value={study} onChange={setStudy} min={1} w={180} />
        <Button variant="light" disabled={!study} loading={dryRun.isPending} onClick={() => dryRun.mutate({ id: savedId, study: Number(study), rule })}>
          {t("rules.dryRun")}
        </Button>
      </Group>
      {dryRun.isError && (
        <Alert color="red" role="alert">
          {t("errors.generic", { detail: dryRun.error.message })}
        </Alert>
      )}
      {result && (
        <Stack gap={4} data-testid="dry-run-result">
          <Badge color={result.matches ? "green" : "gray"}>{result.matches ? t("rules.wouldMatch") : t("rules.wouldNotMatch")}</Badge>
          <List size="sm">
            {result.reasons.map((reason, index) => (
              <List.Item key={index}>{reason}</List.Item>
            ))}
          </List>
        </Stack>
      )}
    </Stack>
  );
}

function RuleForm({ initial, onClose }: { initial: RoutingRule | null; onClose: () => void }) {
  const { t } = useTranslation();
  const [rule, setRule] = useState<RoutingRuleInput>(initial ? { ...EMPTY, ...initial } : EMPTY);
  const [dirty, setDirty] = useState(false);
  const save = useSaveRoutingRule();
  const set = (changes: Partial<RoutingRuleInput>) => {
    setRule((previous) => ({ ...previous, ...changes }));
    setDirty(true);
  };
  const submit = () => save.mutate({ ...rule, id: initial?.id }, { onSuccess: onClose });
  return (
    <Stack>
      {TEXT_FIELDS.map((field) => (
        <TextInput
          key={field}
          label={t(`rules.field.${field}`)}
          placeholder={field === "model_version" ? t("rules.newest") : t("rules.any")}
          value={rule[field] ?? ""}
          required={field === "name" || field === "model_name"}
          error={fieldError(save.error, field)}
          onChange={(event) => set({ [field]: event.currentTarget.value })}
        />
      ))}
      <Select
        label={t("rules.field.sequence_type")}
        placeholder={t("rules.any")}
        data={SEQUENCES}
        clearable
        value={rule.sequence_type || null}
        onChange={(value) => set({ sequence_type: (value ?? "") as RoutingRuleInput["sequence_type"] })}
      />
      <NumberInput label={t("rules.field.order")} value={rule.order} min={0} onChange={(value) => set({ order: Number(value) || 0 })} />
      <Checkbox label={t("rules.field.enabled")} checked={rule.enabled ?? true} onChange={(event) => set({ enabled: event.currentTarget.checked })} />
      <Checkbox
        label={t("rules.field.requires_second_reader")}
        description={t("rules.secondReaderHelp")}
        checked={rule.requires_second_reader ?? false}
        onChange={(event) => set({ requires_second_reader: event.currentTarget.checked })}
      />
      {save.isError && !fieldError(save.error, "name") && (
        <Alert color="red" role="alert">
          {t("errors.generic", { detail: save.error.message })}
        </Alert>
      )}
      <Group>
        <Button onClick={submit} loading={save.isPending} disabled={!rule.name.trim() || !rule.model_name.trim()}>
          {t("rules.save")}
        </Button>
      </Group>
      <Title order={5}>{t("rules.dryRunTitle")}</Title>
      <Text size="sm" c="dimmed">
        {t("rules.dryRunIntro")}
      </Text>
      <DryRun rule={rule} savedId={initial && !dirty ? initial.id : undefined} />
    </Stack>
  );
}

function criteria(rule: RoutingRule, any: string): string {
  const parts = [rule.modality, rule.sequence_type, rule.series_description && `/${rule.series_description}/i`, rule.body_part, rule.sending_ae && `AE ${rule.sending_ae}`];
  return parts.filter(Boolean).join(" · ") || any;
}

export function RulesPage() {
  const { t } = useTranslation();
  const rules = useRoutingRules();
  const save = useSaveRoutingRule();
  const remove = useDeleteRoutingRule();
  const [editing, setEditing] = useState<RoutingRule | "new" | null>(null);
  const columns: Column<RoutingRule>[] = [
    { key: "order", header: "rules.field.order", style: NOWRAP, cell: (rule) => rule.order },
    { key: "name", header: "rules.field.name", cell: (rule) => rule.name },
    { key: "criteria", header: "rules.criteria", cell: (rule) => criteria(rule, t("rules.any")) },
    {
      key: "model",
      header: "rules.model",
      cell: (rule) => (
        <>
          {`${rule.model_name} ${rule.model_version || t("rules.newest")}`}
          {rule.requires_second_reader && (
            <Badge ml="xs" size="sm" color="grape" variant="light">
              {t("rules.twoReaders")}
            </Badge>
          )}
        </>
      ),
    },
    {
      key: "enabled",
      header: "rules.field.enabled",
      cell: (rule) => (
        <Switch aria-label={t("rules.toggle", { name: rule.name })} checked={rule.enabled ?? false} onChange={(event) => save.mutate({ id: rule.id, enabled: event.currentTarget.checked })} />
      ),
    },
    {
      key: "actions",
      cell: (rule) => (
        <Group gap="xs" wrap="nowrap">
          <Button size="compact-xs" variant="light" onClick={() => setEditing(rule)}>
            {t("rules.edit")}
          </Button>
          <Button size="compact-xs" variant="subtle" color="red" onClick={() => window.confirm(t("rules.confirmDelete", { name: rule.name })) && remove.mutate(rule.id)}>
            {t("rules.delete")}
          </Button>
        </Group>
      ),
    },
  ];
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("rules.title")}</Title>
        <Button onClick={() => setEditing("new")}>{t("rules.new")}</Button>
      </Group>
      <Text size="sm" c="dimmed">
        {t("rules.intro")}
      </Text>
      {(save.isError || remove.isError) && (
        <Alert color="red" role="alert">
          {t("errors.generic", { detail: (save.error ?? remove.error)?.message })}
        </Alert>
      )}
      <QueryState query={rules}>
        {(rows) => <DataTable striped fz="sm" columns={columns} rows={rows} rowKey={(rule) => rule.id} empty="rules.empty" />}
      </QueryState>
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing === "new" ? t("rules.new") : t("rules.edit")} size="lg">
        {editing !== null && <RuleForm initial={editing === "new" ? null : editing} onClose={() => setEditing(null)} />}
      </Modal>
    </Stack>
  );
}
