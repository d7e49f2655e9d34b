// Shapes of the API, taken from the OpenAPI schema that `make schema` generates (schema.d.ts).
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Me = Schemas["Me"];
export type Patient = Schemas["Patient"];
export type PatientDetail = Schemas["PatientDetail"];
export type TimelineEvent = Schemas["TimelineEvent"];
export type Order = Schemas["Order"];
export type OrderCreate = Schemas["OrderCreate"];
export type OrderStatus = Schemas["StatusE75Enum"];
export type Priority = Schemas["PriorityEnum"];
export type Study = Schemas["Study"];
export type StudyDetail = Schemas["StudyDetail"];
export type Series = Schemas["Series"];
export type AuditEvent = Schemas["Event"];
export type AuditAction = Schemas["ActionEnum"];
export type AuditOutcome = Schemas["OutcomeEnum"];
export type DeadLetter = Schemas["DeadLetter"];
export type DeadLetterDetail = Schemas["DeadLetterDetail"];
export type FhirMapping = Schemas["Mapping"];

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

// POST /api/radiology/uploads answers "per-file results" without a schema (radiology/api/views.py UploadView):
// the same body on 201 (something stored), 200 (all already stored) and 400/413 (nothing stored).
export type UploadStatus = "stored" | "already_stored" | "rejected";
export interface UploadFileResult {
  file: string;
  status: UploadStatus;
  code?: string;
  reason?: string;
  study_instance_uid?: string;
  sop_instance_uid?: string;
}
export interface UploadResponse {
  counts: Record<UploadStatus, number>;
  results: UploadFileResult[];
  studies: { id: number; study_instance_uid: string; status: string }[];
}
