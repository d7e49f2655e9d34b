import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api } from "./client";
import type { RoutingRule, RoutingRuleInput, DryRunResult } from "./types";

export function useRoutingRules() {
  return useQuery({ queryKey: ["routing", "rules"], queryFn: () => api<RoutingRule[]>("/api/routing/rules") });
}

/** Create (no id) or change a rule; a PATCH of the fields given. */
export function useSaveRoutingRule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, ...fields }: Partial<RoutingRuleInput> & { id?: number }) =>
      id === undefined
        ? api<RoutingRule>("/api/routing/rules", { method: "POST", json: fields })
        : api<RoutingRule>(`/api/routing/rules/${id}`, { method: "PATCH", json: fields }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["routing"] }),
  });
}

export function useDeleteRoutingRule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api(`/api/routing/rules/${id}`, { method: "DELETE" }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["routing"] }),
  });
}

/** The dry run: of a saved rule (id) or of the form's unsaved criteria. Changes nothing on the server. */
export function useDryRun() {
  return useMutation({
    mutationFn: ({ id, study, rule }: { id?: number; study: number; rule: Partial<RoutingRuleInput> }) =>
      id === undefined
        ? api<DryRunResult>("/api/routing/rules/dry-run", { method: "POST", json: { study, rule: criteria(rule) } })
        : api<DryRunResult>(`/api/routing/rules/${id}/dry-run`, { method: "POST", json: { study } }),
  });
}

function criteria(rule: Partial<RoutingRuleInput>) {
  const { modality, sequence_type, series_description, body_part, sending_ae } = rule;
  return { modality, sequence_type, series_description, body_part, sending_ae };
}
