import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { OpsOverview } from "../../api/types";
import { routeFetch } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { OpsPage } from "./OpsPage";

const OVERVIEW: OpsOverview = {
  dependencies: {
    status: "ok",
    checked_seconds_ago: 1.2,
    items: [
      { name: "database", state: "up", latency_ms: 1.5, detail: "" },
      { name: "orthanc", state: "down", latency_ms: 2000, detail: "ConnectionError: refused" },
      { name: "fhir", state: "not_configured", latency_ms: null, detail: "" },
    ],
  },
  queues: {
    status: "ok",
    items: [
      { name: "ai_jobs", dead_letter: false, messages: 3, consumers: 1, detail: "" },
      { name: "ai_jobs.dlq", dead_letter: true, messages: 6, consumers: 0, detail: "" },
    ],
  },
  fhir_dead_letters: { status: "ok", open: 2, oldest_open_at: "2026-12-01T08:00:00Z", created_last_24h: 1 },
  ai_jobs: { status: "ok", failed_last_24h: 4, failed_by_task: [{ task: "segmentation", count: 4, last_at: "2026-12-04T08:00:00Z" }], last_failed_at: "2026-12-04T08:00:00Z", queued: 0, running: 1 },
  alerts: {
    status: "ok",
    firing: [{ name: "BackupTooOld", severity: "warning", summary: "No recent database backup", starts_at: "", received_at: "2026-12-04T09:00:00Z" }],
    resolved: [{ name: "QueueBacklog", severity: "warning", summary: "ai_jobs backlog", starts_at: "", received_at: "2026-12-04T08:00:00Z" }],
  },
  deployment: { status: "ok", live_colour: "green", serving_colour: "green", switched_at: null },
  backups: { status: "ok", source: "metrics", items: [{ kind: "database", last_success_at: "2026-12-04T06:00:00Z", age_seconds: 3 * 3600 + 5 }, { kind: "offsite", last_success_at: null, age_seconds: null }] },
  links: { grafana: "https://grafana.example", prometheus: null, alertmanager: null },
  generated_at: "2026-12-04T09:01:00Z",
};

describe("operations page", () => {
  it("shows each dependency's state, the queues, failures, alerts, colour and backups", async () => {
    const calls = routeFetch([["/api/ops/overview", OVERVIEW]]);
    renderPage(<OpsPage />);
    const orthanc = await screen.findByTestId("dependency-orthanc");
    expect(orthanc.textContent).toContain("장애");
    expect(orthanc.textContent).toContain("ConnectionError: refused");
    expect(screen.getByTestId("dependency-database").textContent).toContain("정상");
    expect(screen.getByTestId("dependency-fhir").textContent).toContain("설정 안 됨");
    expect(screen.getByTestId("queue-ai_jobs.dlq").textContent).toContain("6");
    expect(screen.getByTestId("ai-failed").textContent).toContain("4");
    expect(screen.getByTestId("fhir-open").textContent).toContain("2");
    expect(within(screen.getByTestId("alerts-firing")).getByText("BackupTooOld")).toBeTruthy();
    expect(within(screen.getByTestId("alerts-resolved")).getByText("QueueBacklog")).toBeTruthy();
    expect(screen.getByTestId("live-colour").textContent).toContain("green");
    expect(screen.getByTestId("backup-database").textContent).toContain("3시간 전");
    expect(screen.getByTestId("backup-offsite").textContent).toContain("기록 없음");
    expect(calls.map((call) => call.url)).toEqual(["/api/ops/overview"]);
  });

  it("links to the monitoring tools that are configured, and only those", async () => {
    routeFetch([["/api/ops/overview", OVERVIEW]]);
    renderPage(<OpsPage />);
    const links = await screen.findByTestId("ops-links");
    const anchors = within(links).getAllByRole("link");
    expect(anchors.map((anchor) => anchor.getAttribute("href"))).toEqual(["https://grafana.example"]);
  });

  it("shows a section that could not be read as down, and the others as they are", async () => {
    routeFetch([["/api/ops/overview", { ...OVERVIEW, queues: { status: "down", detail: "AMQPConnectionError: refused" } }]]);
    renderPage(<OpsPage />);
    const down = await screen.findByTestId("ops-queues-down");
    expect(down.textContent).toContain("AMQPConnectionError: refused");
    expect(screen.getByTestId("dependency-database")).toBeTruthy();
  });

  it("shows the API's refusal with a retry", async () => {
    routeFetch([["/api/ops/overview", () => ({ status: 403, body: { status: 403, error: "permission_denied", detail: "Only operations staff may do this." } })]]);
    renderPage(<OpsPage />);
    expect((await screen.findByRole("alert")).textContent).toContain("Only operations staff");
  });
});
