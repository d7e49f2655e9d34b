// The same patient's earlier studies, to read beside the current one: dated before it, of its modality,
// linked to the patient, newest first, and only those the PACS still holds (a shared database may list
// studies whose images are elsewhere: the study detail says so).
import { useQueries } from "@tanstack/react-query";

import { studyQuery, useStudies } from "../api/radiology";
import type { Study, StudyDetail } from "../api/types";

/** At most this many earlier studies are offered (each is asked of the PACS). */
export const MAX_PRIORS = 8;

/** The primary modality of "MR\\SEG": what a prior must share with the current study. */
export function primaryModality(modalities: string): string {
  return modalities.split("\\").find(Boolean) ?? "";
}

/** Of the patient's `studies`, those dated before `current`, linked, newest first (then the newer record). */
export function earlierStudies(current: Pick<Study, "id" | "study_date">, studies: Study[]): Study[] {
  const date = current.study_date;
  if (!date) return [];
  return studies
    .filter((study) => study.id !== current.id && study.status === "LINKED" && !!study.study_date && study.study_date < date)
    .sort((a, b) => (b.study_date ?? "").localeCompare(a.study_date ?? "") || b.id - a.id);
}

export interface PriorStudies {
  /** Earlier studies in the PACS, newest first; the first is the default prior. */
  priors: StudyDetail[];
  loading: boolean;
}

/** The earlier studies of `current`'s patient; none when the study has no patient or no date. */
export function usePriorStudies(current: Pick<Study, "id" | "patient" | "study_date" | "modality">): PriorStudies {
  const enabled = !!current.patient && !!current.study_date;
  const listed = useStudies(
    { patient: current.patient ?? undefined, date_to: current.study_date ?? undefined, modality: primaryModality(current.modality) },
    enabled,
  );
  const candidates = enabled ? earlierStudies(current, listed.data?.results ?? []).slice(0, MAX_PRIORS) : [];
  const details = useQueries({ queries: candidates.map((study) => studyQuery(study.id)) });
  const priors = details.flatMap((detail) => (detail.data?.in_pacs ? [detail.data] : []));
  const loading = enabled && (listed.isPending || details.some((detail) => detail.isPending));
  return { priors, loading };
}
