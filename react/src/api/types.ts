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
export type MeasurementInput = Schemas["MeasurementInput"];
export type MeasurementReport = Schemas["MeasurementReport"];
export type SavedMeasurement = Schemas["Measurement"];
export type AuditEvent = Schemas["Event"];
export type AuditAction = Schemas["ActionEnum"];
export type AuditOutcome = Schemas["OutcomeEnum"];
export type DeadLetter = Schemas["DeadLetter"];
export type DeadLetterDetail = Schemas["DeadLetterDetail"];
export type FhirMapping = Schemas["Mapping"];
export type RoutingRule = Schemas["Rule"];
export type RoutingRuleInput = Omit<RoutingRule, "id" | "created_at" | "updated_at">;
export type DryRunResult = Schemas["DryRunResult"];
export type OpsOverview = Schemas["OpsOverview"];

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

// POST /api/radiology/uploads (radiology/api/serializers.py): one body on 201 (something stored) and 200 (all
// already stored); on 400/413 (nothing stored) the same body with status, error and detail added.
export type UploadResponse = Schemas["UploadAnswer"];
export type UploadRefused = Schemas["UploadRefused"];
export type UploadFileResult = Schemas["UploadResult"];
