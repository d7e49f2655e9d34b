import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { PAGE_SIZE, api } from "./client";
import { queryString } from "./radiology";
import type { AuditEvent, DeadLetter, DeadLetterDetail, FhirMapping, Page } from "./types";


export interface AuditFilters {
  action?: string;
  outcome?: string;
  actor?: string;
  patient?: string;
  resource_type?: string;
  since?: string;
  until?: string;
}

export function auditCsvUrl(filters: AuditFilters): string {
  const query = queryString({ ...filters });
  return `/api/audit/events.csv${query ? `?${query}` : ""}`;
}

export function useAuditEvents(filters: AuditFilters, page: number) {
  return useQuery({
    queryKey: ["audit", filters, page],
    queryFn: () =>
      api<Page<AuditEvent>>(`/api/audit/events?${queryString({ ...filters, page, page_size: PAGE_SIZE })}`),
    placeholderData: keepPreviousData,
  });
}

export function useDeadLetters(page: number) {
  return useQuery({
    queryKey: ["fhir", "dead-letters", page],
    queryFn: () => api<Page<DeadLetter>>(`/api/fhir/dead-letters?page=${page}`),
    placeholderData: keepPreviousData,
  });
}

export function useDeadLetter(id: number | null) {
  return useQuery({
    queryKey: ["fhir", "dead-letter", id],
    queryFn: () => api<DeadLetterDetail>(`/api/fhir/dead-letters/${id}`),
    enabled: id !== null,
  });
}

export function useFhirMappings(page: number) {
  return useQuery({
    queryKey: ["fhir", "mappings", page],
    queryFn: () => api<Page<FhirMapping>>(`/api/fhir/mappings?page=${page}`),
    placeholderData: keepPreviousData,
  });
}

function useFhirMutation<V>(fn: (variables: V) => Promise<unknown>) {
  const client = useQueryClient();
  return useMutation({ mutationFn: fn, onSuccess: () => client.invalidateQueries({ queryKey: ["fhir"] }) });
}

export function useReplayDeadLetter() {
  return useFhirMutation((id: number) => api(`/api/fhir/dead-letters/${id}/replay`, { method: "POST" }));
}

export function useReplayDeadLetters() {
  return useFhirMutation((ids: number[]) => api("/api/fhir/dead-letters/replay", { method: "POST", json: { ids } }));
}

export function useDiscardDeadLetter() {
  return useFhirMutation(({ id, reason }: { id: number; reason: string }) =>
    api(`/api/fhir/dead-letters/${id}/discard`, { method: "POST", json: { reason } }),
  );
}
