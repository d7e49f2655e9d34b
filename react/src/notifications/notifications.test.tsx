import { act, fireEvent, screen } from "@testing-library/react";
import { QueryClient } from "@tanstack/react-query";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { SignedInRoutes } from "../App";
import { page, routeFetch, FakeWebSocket } from "../test/fakes";
import { renderPage } from "../test/render";
import { NotificationsProvider } from "./NotificationsProvider";
import { backoff, connectNotifications, socketUrl } from "./socket";

const OPS = { id: 3, username: "ops", first_name: "", last_name: "", roles: ["OPS"], is_service_account: false };

beforeEach(() => {
  FakeWebSocket.instances = [];
  globalThis.WebSocket = FakeWebSocket as unknown as typeof WebSocket;
});
afterEach(() => vi.useRealTimers());

describe("notification socket", () => {
  it("uses wss on https and ws on http, same host", () => {
    expect(socketUrl({ protocol: "https:", host: "cdss.example:8443" })).toBe("wss://cdss.example:8443/ws/notifications/");
    expect(socketUrl({ protocol: "http:", host: "localhost:5173" })).toBe("ws://localhost:5173/ws/notifications/");
  });

  it("backs off exponentially up to a cap", () => {
    expect([0, 1, 2, 3, 10].map((attempt) => backoff(attempt))).toEqual([1000, 2000, 4000, 8000, 30000]);
  });

  it("reconnects after a drop and reports the reconnection (not the first connection)", () => {
    vi.useFakeTimers();
    const onReconnect = vi.fn();
    const onMessage = vi.fn();
    const stop = connectNotifications({ onMessage, onReconnect }, "ws://x/ws/notifications/");
    FakeWebSocket.latest().open();
    expect(onReconnect).not.toHaveBeenCalled();
    FakeWebSocket.latest().drop();
    vi.advanceTimersByTime(999);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    FakeWebSocket.latest().drop(); // fails again: waits longer
    vi.advanceTimersByTime(1999);
    expect(FakeWebSocket.instances).toHaveLength(2);
    vi.advanceTimersByTime(1);
    FakeWebSocket.latest().open();
    expect(onReconnect).toHaveBeenCalledTimes(1);
    FakeWebSocket.latest().receive({ type: "ai.job.progress", job_id: "j", stage: "inference", fraction: 0.5 });
    expect(onMessage).toHaveBeenCalledWith({ type: "ai.job.progress", job_id: "j", stage: "inference", fraction: 0.5 });
    stop();
    expect(FakeWebSocket.latest().closed).toBe(true);
  });

  it("stops and announces an expired session on close code 4401", () => {
    vi.useFakeTimers();
    let expired = false;
    window.addEventListener("cdss:session-expired", () => (expired = true), { once: true });
    connectNotifications({ onMessage: () => {}, onReconnect: () => {} }, "ws://x/");
    FakeWebSocket.latest().drop(4401);
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(expired).toBe(true);
  });
});

describe("notification centre", () => {
  it("counts unread alerts and job results in the badge and lists them", async () => {
    routeFetch([]);
    renderPage(
      <NotificationsProvider>
        <SignedInRoutes me={OPS} />
      </NotificationsProvider>,
      "/patients/elsewhere",
    );
    await screen.findByTestId("no-access");
    const socket = FakeWebSocket.latest();
    act(() => {
      socket.open();
      socket.receive({ kind: "alert", route: "ops", alerts: [{ name: "DiskFull", status: "firing", severity: "critical", summary: "disk 95%" }, { name: "QueueBacklog", status: "resolved", severity: "warning", summary: "" }] });
      socket.receive({ type: "ai.job.finished", job_id: "job-9", status: "FAILED", reason: "series has mixed orientations" });
      socket.receive({ type: "ai.job.progress", job_id: "job-8", stage: "inference", fraction: 0.3 }); // progress is not a notice
    });
    expect(screen.getByTestId("unread-badge").textContent).toContain("3");
    fireEvent.click(screen.getByRole("link", { name: "알림" }));
    expect(await screen.findByText(/경보: DiskFull/)).toBeTruthy();
    expect(screen.getByText(/해제됨: QueueBacklog/)).toBeTruthy();
    expect(screen.getByText(/AI 분석이 실패했습니다/)).toBeTruthy();
    expect(screen.getByText(/mixed orientations/)).toBeTruthy();
    expect(screen.getByText("실시간 연결됨")).toBeTruthy();
    // opening the page marks them read
    expect(screen.getByTestId("unread-badge").textContent).not.toContain("3");
  });

  it("tells a radiologist that a result awaits sign-off, with links to it and to the worklist", async () => {
    const RADIOLOGIST = { ...OPS, id: 4, username: "radiologist", roles: ["RIB", "RADIOLOGIST"] };
    routeFetch([["/api/", page([])]]);
    renderPage(
      <NotificationsProvider>
        <SignedInRoutes me={RADIOLOGIST} />
      </NotificationsProvider>,
      "/notifications",
    );
    const socket = FakeWebSocket.latest();
    act(() => {
      socket.open();
      socket.receive({ type: "ai.result.awaiting_sign_off", job_id: "job-7", result_id: 70, model: "mri-lesion-demo", priority: "URGENT" });
    });
    expect(await screen.findByText(/AI 결과\(mri-lesion-demo, 긴급\)가 판독 승인을 기다립니다/)).toBeTruthy();
    const list = screen.getByTestId("notification-list");
    expect(list.querySelector('a[href="/ai/jobs/job-7"]')).toBeTruthy();
    expect(list.querySelector('a[href="/worklist"]')).toBeTruthy();
  });

  it("refetches every query after reconnecting", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const calls = routeFetch([["/api/patients", page([])]]);
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    renderPage(
      <NotificationsProvider>
        <SignedInRoutes me={{ ...OPS, roles: ["NURSE"] }} />
      </NotificationsProvider>,
      "/patients",
      client,
    );
    await screen.findByText("일치하는 환자가 없습니다.");
    const before = calls.filter((call) => call.url.startsWith("/api/patients")).length;
    act(() => FakeWebSocket.latest().open());
    act(() => FakeWebSocket.latest().drop());
    act(() => vi.advanceTimersByTime(1000));
    act(() => FakeWebSocket.latest().open());
    await vi.waitFor(() => expect(calls.filter((call) => call.url.startsWith("/api/patients")).length).toBeGreaterThan(before));
  });
});
