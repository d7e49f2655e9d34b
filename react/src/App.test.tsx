import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { App } from "./App";
import { routeFetch } from "./test/fakes";
import { renderPage } from "./test/render";

const DOCTOR = { id: 1, username: "doc", first_name: "", last_name: "", roles: ["DOCTOR"], is_service_account: false };

describe("session expiry", () => {
  it("goes back to sign-in with a notice when the API answers 401, then returns to the page", async () => {
    let expired = false;
    routeFetch([
      ["/api/auth/me", () => (expired ? { status: 401, body: { status: 401, error: "not_authenticated", detail: "expired" } } : { status: 200, body: DOCTOR })],
      ["/api/auth/csrf", { csrf_token: "x" }],
      ["/api/auth/login", () => ((expired = false), { status: 200, body: DOCTOR })],
      ["/api/patients", () => ((expired = true), { status: 401, body: { status: 401, error: "not_authenticated", detail: "expired" } })],
    ]);
    renderPage(<App />, "/patients");
    const notice = await screen.findByTestId("session-expired");
    expect(notice.textContent).toBe("세션이 만료되었습니다. 다시 로그인하세요.");
    fireEvent.change(screen.getByLabelText(/사용자 이름/), { target: { value: "doc" } });
    fireEvent.change(screen.getByLabelText(/비밀번호/), { target: { value: "pw" } });
    fireEvent.click(screen.getByRole("button", { name: "로그인" }));
    expect(await screen.findByText("환자", { selector: "h3" })).toBeTruthy();
  });

  it("a first visit without a session goes to sign-in without the expiry notice", async () => {
    routeFetch([["/api/auth/me", () => ({ status: 401, body: { status: 401, error: "not_authenticated", detail: "no session" } })]]);
    renderPage(<App />, "/radiology");
    expect(await screen.findByRole("button", { name: "로그인" })).toBeTruthy();
    expect(screen.queryByTestId("session-expired")).toBeNull();
  });
});

describe("a busy or broken server", () => {
  it("does not send a signed-in person to sign-in when /api/auth/me fails with 5xx; it offers a retry", async () => {
    routeFetch([["/api/auth/me", () => ({ status: 503, body: { status: 503, error: "unavailable", detail: "database down" } })]]);
    renderPage(<App />, "/patients");
    const alert = await screen.findByRole("alert", {}, { timeout: 15_000 });
    expect(alert.textContent).toContain("database down");
    expect(screen.queryByRole("button", { name: "로그인" })).toBeNull();
  }, 20_000);
});
