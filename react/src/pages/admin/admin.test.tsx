import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { page, routeFetch } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { AuditPage } from "./AuditPage";
import { FhirPage } from "./FhirPage";

const EVENT = {
  id: 11, occurred_at: "2026-11-26T09:00:00Z", actor_type: "user", actor_id: 2, actor_username: "doc", actor_roles: ["DOCTOR"],
  action: "READ", resource_type: "patient", resource_id: "p-1", patient_id: "p-1", outcome: "SUCCESS", status_code: 200,
  source_ip: "127.0.0.1", user_agent: "", request_id: "r1", system: "", endpoint: "GET /api/patients/p-1", detail: {}, prev_hash: "", hash: "",
};

const LETTER = {
  id: 5, entity_type: "radiology.study", entity_id: "7", resource_type: "ImagingStudy", status: "open", reason: "HAPI answered 422",
  error_class: "ExternalRejected", http_status: 422, attempts: 4, retryable: false, task_id: "t", created_at: "2026-11-26T08:00:00Z",
  updated_at: "2026-11-26T08:00:00Z", resolved_at: null, resolved_by: "", discard_reason: "", replay_count: 0,
};

describe("audit log", () => {
  it("filters, pages and exports with the same filters", async () => {
    const calls = routeFetch([["/api/audit/events", { count: 120, next: "x", previous: null, results: [EVENT] }]]);
    renderPage(<AuditPage />);
    expect(await screen.findByText("GET /api/patients/p-1")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("사용자"), { target: { value: "doc" } });
    await waitFor(() => expect(calls.some((call) => call.url.includes("actor=doc"))).toBe(true));
    expect(screen.getByTestId("csv-export").getAttribute("href")).toBe("/api/audit/events.csv?actor=doc");
    fireEvent.click(screen.getByRole("button", { name: "3" }));
    await waitFor(() => expect(calls.some((call) => call.url.includes("page=3") && call.url.includes("page_size=50"))).toBe(true));
  });

  it("shows the API's error with a retry", async () => {
    routeFetch([["/api/audit/events", () => ({ status: 403, body: { status: 403, error: "permission_denied", detail: "ADMIN only" } })]]);
    renderPage(<AuditPage />);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("ADMIN only");
    expect(within(alert).getByRole("button", { name: "다시 시도" })).toBeTruthy();
  });
});

describe("FHIR sync", () => {
  it("inspects a dead letter with its OperationOutcome and replays it", async () => {
    const calls = routeFetch([
      [/\/api\/fhir\/dead-letters\/5\/replay$/, () => ({ status: 202 })],
      [/\/api\/fhir\/dead-letters\/5$/, { ...LETTER, operation_outcome: { resourceType: "OperationOutcome", issue: [{ severity: "error", diagnostics: "bad code" }] } }],
      ["/api/fhir/dead-letters", page([LETTER])],
    ]);
    renderPage(<FhirPage />);
    expect(await screen.findByText("HAPI answered 422")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "상세" }));
    expect(await screen.findByText(/bad code/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "재전송" }));
    expect(await screen.findByText("재전송이 예약되었습니다.")).toBeTruthy();
    const replay = calls.find((call) => call.url.endsWith("/5/replay"));
    expect(replay?.init.method).toBe("POST");
  });

  it("replays the selected dead letters together", async () => {
    const calls = routeFetch([
      ["/api/fhir/dead-letters/replay", () => ({ status: 202 })],
      ["/api/fhir/dead-letters", page([LETTER, { ...LETTER, id: 6 }])],
    ]);
    renderPage(<FhirPage />);
    fireEvent.click(await screen.findByLabelText("실패 메시지 5 선택"));
    fireEvent.click(screen.getByLabelText("실패 메시지 6 선택"));
    fireEvent.click(screen.getByRole("button", { name: "선택 항목 재전송 (2)" }));
    await waitFor(() => expect(calls.some((call) => call.url === "/api/fhir/dead-letters/replay")).toBe(true));
    const body = calls.find((call) => call.url === "/api/fhir/dead-letters/replay")!.init.body;
    expect(JSON.parse(String(body))).toEqual({ ids: [5, 6] });
  });
});
