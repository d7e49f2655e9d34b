// Shapes of the API, taken from the OpenAPI schema that `make schema` generates (schema.d.ts).
import type { components } from "./schema";

export type Me = components["schemas"]["Me"];
export type Patient = components["schemas"]["Patient"];
export type PatientDetail = components["schemas"]["PatientDetail"];
export type TimelineEvent = components["schemas"]["TimelineEvent"];

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export interface Section {
  patient: string;
  section: string;
  results: Record<string, string | null>[];
}
