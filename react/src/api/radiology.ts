import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api } from "./client";
import type { components } from "./schema";
import type { MeasurementInput, MeasurementReport, Order, OrderCreate, OrderStatus, Page, Study, StudyDetail } from "./types";

type Schemas = components["schemas"];

export const ORDER_STATUSES: OrderStatus[] = ["REQUESTED", "SCHEDULED", "IN_PROGRESS", "COMPLETED", "CANCELLED"];
export const MODALITIES = ["MR", "CT", "PT", "CR", "US"] as const;
export const PRIORITIES = ["ROUTINE", "URGENT", "STAT"] as const;

/** A study's ModalitiesInStudy ("MR\\SEG") as the pages show it: "MR, SEG". */
export function modalityText(value: string): string {
  return value.split("\\").filter(Boolean).join(", ");
}

/** Drops empty values so the URL only carries the filters in use. */
export function queryString(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  return search.toString();
}

export interface OrderFilters {
  status?: string;
  patient?: string;
  page?: number;
}

export function useOrders(filters: OrderFilters) {
  return useQuery({
    queryKey: ["radiology", "orders", filters],
    queryFn: () => api<Page<Order>>(`/api/radiology/orders?${queryString({ ...filters })}`),
    placeholderData: keepPreviousData,
  });
}

export interface StudyFilters {
  status?: string;
  modality?: string;
  patient?: string;
  date_from?: string;
  date_to?: string;
  order?: number;
  page?: number;
}

export function useStudies(filters: StudyFilters, enabled = true) {
  return useQuery({
    queryKey: ["radiology", "studies", filters],
    queryFn: () => api<Page<Study>>(`/api/radiology/studies?${queryString({ ...filters })}`),
    placeholderData: keepPreviousData,
    enabled,
  });
}

/** One study with its series (and whether the PACS holds it); shared by useStudy and lists of details. */
export function studyQuery(id: number) {
  return {
    queryKey: ["radiology", "study", id],
    queryFn: () => api<StudyDetail>(`/api/radiology/studies/${id}`),
    enabled: Number.isFinite(id),
  };
}

export function useStudy(id: number) {
  return useQuery(studyQuery(id));
}

/** The study's measurement reports (DICOM SR in the PACS), oldest first. */
export function useMeasurements(studyId: number) {
  return useQuery({
    queryKey: ["radiology", "measurements", studyId],
    queryFn: () => api<MeasurementReport[]>(`/api/radiology/studies/${studyId}/measurements`),
    enabled: Number.isFinite(studyId),
  });
}

/** Save lengths and ellipses as one SR; the list is read again from the PACS. */
export function useSaveMeasurements(studyId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (measurements: MeasurementInput[]) =>
      api<MeasurementReport>(`/api/radiology/studies/${studyId}/measurements`, { method: "POST", json: { measurements } }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["radiology", "measurements", studyId] }),
  });
}

export function useCreateOrder() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (order: OrderCreate) => api<Order>("/api/radiology/orders", { method: "POST", json: order }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["radiology", "orders"] }),
  });
}

export function useTransitionOrder() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, status }: { id: number; status: string }) =>
      api<Order>(`/api/radiology/orders/${id}/transition`, { method: "POST", json: { status } }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["radiology", "orders"] }),
  });
}

export function thumbnailUrl(studyId: number, seriesPk: number): string {
  return `/api/radiology/studies/${studyId}/series/${seriesPk}/thumbnail`;
}

export const DICOMWEB_ROOT = "/api/radiology/dicom-web";

// Reconciliation: studies whose images name no EMR patient (RECONCILE) or another patient than the study
// already has (CONFLICT), with the EMR patients that could be theirs. The item route also serves a
// resolved study (LINKED); thumbnail_url is for clinical staff only (an ADMIN is refused the image).
export type ReconciliationItem = Schemas["ReconciliationItem"];
export type Candidate = Schemas["Candidate"];
export type MatchField = Schemas["MatchedOnEnum"];
export type DicomIdentity = Schemas["DicomIdentity"];

export function useReconciliation(filters: { status?: string; page?: number }, enabled = true) {
  return useQuery({
    queryKey: ["radiology", "reconciliation", "list", filters],
    queryFn: () => api<Page<ReconciliationItem>>(`/api/radiology/reconciliation?${queryString({ ...filters })}`),
    placeholderData: keepPreviousData,
    enabled,
  });
}

export function useReconciliationItem(id: number) {
  return useQuery({
    queryKey: ["radiology", "reconciliation", "item", id],
    queryFn: () => api<ReconciliationItem>(`/api/radiology/reconciliation/${id}`),
    enabled: Number.isFinite(id),
  });
}

export type Resolution = { action: "link"; patient: string; comment: string } | { action: "unlink" | "reject"; comment: string };

/** Link, unlink or reject a study; every radiology list and the study itself are stale afterwards. */
export function useResolveStudy(studyId: number) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ action, ...body }: Resolution) =>
      api<StudyDetail | undefined>(`/api/radiology/studies/${studyId}/${action}`, { method: "POST", json: body }),
    onSuccess: () => {
      // dropped, not only stale: the list opened next must not show the study that was just resolved
      client.removeQueries({ queryKey: ["radiology", "reconciliation", "list"] });
      // all stale; those on screen fetched again, but not the item just resolved: the page leaves it at once
      // (and a rejected one is gone)
      void client.invalidateQueries({ queryKey: ["radiology"], refetchType: "none" });
      void client.refetchQueries({ queryKey: ["radiology"], type: "active", predicate: ({ queryKey }) => queryKey[2] !== "item" });
    },
  });
}
