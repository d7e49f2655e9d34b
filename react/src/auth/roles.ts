// What each role may see or do in the UI. The server enforces the same rules; this only shapes the UI.
// RADIOLOGIST is held together with RIB by licensed radiologists: the sign-off (approve, reject, amend).
export type Role = "DOCTOR" | "RIB" | "RADIOLOGIST" | "NURSE" | "ADMIN" | "OPS" | "SERVICE";

const CLINICAL: Role[] = ["DOCTOR", "RIB", "NURSE"];

function holds(roles: readonly string[], allowed: Role[]): boolean {
  return roles.some((role) => allowed.includes(role as Role));
}

export const can = {
  seePatients: (roles: readonly string[]) => holds(roles, CLINICAL),
  seeImaging: (roles: readonly string[]) => holds(roles, CLINICAL),
  uploadDicom: (roles: readonly string[]) => holds(roles, ["DOCTOR", "RIB"]),
  orderImaging: (roles: readonly string[]) => holds(roles, ["DOCTOR"]),
  requestAnalysis: (roles: readonly string[]) => holds(roles, ["DOCTOR", "RIB"]),
  saveMeasurements: (roles: readonly string[]) => holds(roles, ["DOCTOR", "RIB"]),
  seeAnalyses: (roles: readonly string[]) => holds(roles, CLINICAL),
  reviewAiResults: (roles: readonly string[]) => holds(roles, ["RADIOLOGIST"]),
  seeSignOffWorklist: (roles: readonly string[]) => holds(roles, ["RADIOLOGIST"]),
  shareBoard: (roles: readonly string[]) => holds(roles, ["DOCTOR", "RIB"]),
  seeReconciliation: (roles: readonly string[]) => holds(roles, ["RIB", "ADMIN"]),
  reconcile: (roles: readonly string[]) => holds(roles, ["RIB"]),
  administer: (roles: readonly string[]) => holds(roles, ["ADMIN"]),
  seeAlerts: (roles: readonly string[]) => holds(roles, ["OPS", "ADMIN"]),
  seeOperations: (roles: readonly string[]) => holds(roles, ["OPS", "ADMIN"]),
};

/** Where a role lands after signing in: its first screen with something to do. */
export function homePath(roles: readonly string[]): string {
  if (can.seePatients(roles)) return "/patients";
  if (can.administer(roles)) return "/manage/audit";
  if (can.seeOperations(roles)) return "/ops";
  return "/notifications";
}
