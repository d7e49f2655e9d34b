// /api/ai/*: types from the OpenAPI schema (schema.d.ts); the shape of a result's metrics is each task's
// own (docs/ai.md), so the readers at the end of this file accept what the ai-server's pipelines report.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api } from "./client";
import { queryString } from "./radiology";
import type { components } from "./schema";
import type { Page } from "./types";

type Schemas = components["schemas"];
export type AiJob = Schemas["Job"];
export type AiResult = Schemas["Result"];
export type AiArtifact = Schemas["Artifact"];
export type AiModel = Schemas["ModelInfo"] & { description?: string; disclaimer?: string };
export type ExpressionUpload = Schemas["ExpressionUpload"];
export type AiTask = Schemas["TaskEnum"];
export type JobStatus = Schemas["JobStatusEnum"];
export type ResultStatus = Schemas["ResultStatusEnum"];
export type JobRequest = Schemas["JobCreate"];
export type Decision = Schemas["DecisionEnum"];
export type WorklistItem = Schemas["WorklistItem"];
export type ResultRevision = Schemas["Revision"];
export type Amendment = Schemas["Amend"];
export type TumourCourse = Schemas["TumourCourse"];
export type CourseRow = Schemas["CourseRow"];

/** What the UI reads from a result: everything the ai-server reported (raw_metrics), else the FHIR subset. */
export function resultMetrics(result: AiResult): Record<string, unknown> {
  const raw = (result.raw_metrics ?? result.metrics) as unknown;
  return raw && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
}

export function useAiModels(task?: AiTask) {
  return useQuery({
    queryKey: ["ai", "models"],
    queryFn: () => api<Schemas["ModelList"]>("/api/ai/models"),
    select: (data) => (data.models ?? []).filter((model) => !task || model.task === task) as AiModel[],
    staleTime: 5 * 60_000,
  });
}

/** The patient's tumour course from signed segmentations (GET /api/patients/{puuid}/tumour-course). */
export function useTumourCourse(puuid: string) {
  return useQuery({
    queryKey: ["ai", "tumour-course", puuid],
    queryFn: () => api<TumourCourse>(`/api/patients/${encodeURIComponent(puuid)}/tumour-course`),
    enabled: Boolean(puuid),
  });
}

export function useAiJobs(filters: { study?: number; patient?: string; status?: string; page?: number }, enabled = true) {
  return useQuery({
    queryKey: ["ai", "jobs", filters],
    queryFn: () => api<Page<AiJob>>(`/api/ai/jobs?${queryString({ ...filters })}`),
    placeholderData: keepPreviousData,
    enabled,
  });
}

export function useAiJob(id: string) {
  return useQuery({
    queryKey: ["ai", "job", id],
    queryFn: () => api<AiJob>(`/api/ai/jobs/${id}`),
    // the websocket pushes progress and the end; a slow poll covers a lost socket
    refetchInterval: (query) => (["QUEUED", "RUNNING"].includes(query.state.data?.status ?? "") ? 15_000 : false),
    enabled: Boolean(id),
  });
}

export function useRequestAnalysis() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (request: JobRequest) => api<AiJob>("/api/ai/jobs", { method: "POST", json: request }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["ai", "jobs"] }),
  });
}

export function useCancelJob() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api<AiJob>(`/api/ai/jobs/${id}/cancel`, { method: "POST" }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["ai"] }),
  });
}

export function useReview() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ resultId, decision, comment }: { resultId: number; decision: Decision; comment: string }) =>
      api<AiResult>(`/api/ai/results/${resultId}/review`, { method: "POST", json: { decision, comment } }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["ai"] }),
  });
}

/** Results awaiting sign-off, most urgent first, then oldest (RADIOLOGIST); a push refreshes it. */
export function useSignOffWorklist(page = 1) {
  return useQuery({
    queryKey: ["ai", "worklist", page],
    queryFn: () => api<Page<WorklistItem>>(`/api/ai/worklist?${queryString({ page })}`),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000, // the ages move on
  });
}

export function useAmend() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ resultId, ...body }: Amendment & { resultId: number }) =>
      api<AiResult>(`/api/ai/results/${resultId}/amend`, { method: "POST", json: body }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["ai"] }),
  });
}

export function useUploadExpression() {
  return useMutation({
    mutationFn: async ({ file, patient }: { file: File; patient: string }) => {
      const form = new FormData();
      form.append("patient", patient);
      form.append("file", file, file.name);
      return api<ExpressionUpload>("/api/ai/expression-uploads", { method: "POST", body: form }); // api() adds the CSRF header
    },
  });
}

export function artifactUrl(jobId: string, name: string): string {
  return `/api/ai/jobs/${jobId}/artifacts/${encodeURIComponent(name)}`;
}

// --- reading the metrics (docs/ai.md leaves their shape to each task; accept the plain forms) ----------

export interface LabelVolume {
  label: string;
  ml: number;
}

/** Volumes per label in mL from segmentation metrics: {volumes_ml: {label: ml}} or [{label, volume_ml}]. */
export function labelVolumes(metrics: Record<string, unknown>): LabelVolume[] {
  const source = metrics.volumes_ml ?? metrics.volume_ml ?? metrics.volumes ?? metrics.labels;
  if (Array.isArray(source)) {
    return source
      .map((row: Record<string, unknown>) => ({
        label: String(row.label ?? row.name ?? row.segment ?? "?"),
        ml: Number(row.volume_ml ?? row.ml ?? row.volume ?? NaN),
      }))
      .filter((row) => Number.isFinite(row.ml));
  }
  if (source && typeof source === "object") {
    return Object.entries(source as Record<string, unknown>)
      .map(([label, value]) => ({
        label,
        ml: Number(typeof value === "object" && value !== null ? ((value as Record<string, unknown>).volume_ml ?? (value as Record<string, unknown>).ml) : value),
      }))
      .filter((row) => Number.isFinite(row.ml));
  }
  return [];
}

export interface GeneWeight {
  gene: string;
  weight: number;
  /** gene symbol from the model's probe table; absent when the table has none for this probe */
  symbol?: string;
  /** the probe id as the platform names it (200726_at) */
  probe?: string;
}

/** A gene as a clinician reads it: its symbol with the probe id beside it, or the probe id alone. */
export function geneLabel(gene: GeneWeight): string {
  const probe = gene.probe ?? gene.gene;
  return gene.symbol ? `${gene.symbol} (${probe})` : probe;
}

export function topGenes(metrics: Record<string, unknown>): GeneWeight[] {
  const source = metrics.top_genes ?? metrics.genes;
  if (!Array.isArray(source)) return [];
  return source
    .map((row: unknown) => {
      if (Array.isArray(row)) return { gene: String(row[0]), weight: Number(row[1]) };
      const record = row as Record<string, unknown>;
      return {
        gene: String(record.gene ?? record.name ?? record.symbol ?? "?"),
        weight: Number(record.contribution ?? record.weight ?? record.coefficient ?? record.value ?? 0),
        symbol: typeof record.symbol === "string" && record.symbol ? record.symbol : undefined,
        probe: typeof record.probe === "string" && record.probe ? record.probe : undefined,
      };
    })
    .filter((row) => Number.isFinite(row.weight));
}

export interface KmCurve {
  name: string;
  time: number[];
  survival: number[];
}

/** Kaplan-Meier curves: {km: {groups: {name: {time, survival}}}}, {km: [{name, time, survival}]} or one {time, survival}. */
export function kmCurves(metrics: Record<string, unknown>): KmCurve[] {
  const km = (metrics.km ?? metrics.kaplan_meier) as unknown;
  if (!km || typeof km !== "object") return [];
  const curve = (name: string, value: Record<string, unknown>): KmCurve | null => {
    const time = value.time ?? value.times ?? value.t;
    const survival = value.survival ?? value.surv ?? value.s ?? value.probability;
    if (!Array.isArray(time) || !Array.isArray(survival)) return null;
    return { name: String(value.label ?? value.name ?? value.group ?? name), time: time.map(Number), survival: survival.map(Number) };
  };
  if (Array.isArray(km)) return km.map((value, index) => curve(`#${index + 1}`, value)).filter((c): c is KmCurve => c !== null);
  const record = km as Record<string, unknown>;
  const single = curve("", record);
  if (single) return [single];
  const groups = (record.groups ?? record.curves ?? record) as Record<string, unknown>;
  if (Array.isArray(groups)) return groups.map((value, index) => curve(`#${index + 1}`, value)).filter((c): c is KmCurve => c !== null);
  return Object.entries(groups)
    .map(([name, value]) => (value && typeof value === "object" ? curve(name, value as Record<string, unknown>) : null))
    .filter((c): c is KmCurve => c !== null);
}

const DAYS_PER_YEAR = 365.25;

/** The Kaplan-Meier curves with time in years when the result states its unit (days, months or years);
 * unit null when it does not, and the time is shown as it came. */
export function kmCurvesInYears(metrics: Record<string, unknown>): { curves: KmCurve[]; unit: "years" | null } {
  const km = (metrics.km ?? metrics.kaplan_meier) as Record<string, unknown> | undefined;
  const perYear = { days: DAYS_PER_YEAR, months: 12, years: 1 }[String(km && !Array.isArray(km) ? km.time_unit : "")];
  const curves = kmCurves(metrics);
  if (!perYear) return { curves, unit: null };
  return { curves: curves.map((curve) => ({ ...curve, time: curve.time.map((time) => time / perYear) })), unit: "years" };
}

export function riskScore(metrics: Record<string, unknown>): { score: number; group?: string; percentile?: number } | null {
  const raw = metrics.risk_score ?? metrics.risk ?? metrics.score;
  if (raw && typeof raw === "object") {
    const record = raw as Record<string, unknown>;
    const score = Number(record.score ?? record.value);
    return Number.isFinite(score) ? { score, group: record.group as string | undefined, percentile: record.percentile as number | undefined } : null;
  }
  const score = Number(raw);
  if (!Number.isFinite(score) || raw === undefined || raw === null) return null;
  return {
    score,
    group: typeof metrics.risk_group === "string" ? metrics.risk_group : undefined,
    percentile: typeof (metrics.percentile ?? metrics.risk_percentile) === "number" ? Number(metrics.percentile ?? metrics.risk_percentile) : undefined,
  };
}
