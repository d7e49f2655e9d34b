import { fireEvent, screen, waitFor } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { describe, expect, it } from "vitest";

import { LoginPage } from "../pages/LoginPage";
import { renderPage, scriptFetch } from "../test/render";

const ADMIN = { id: 1, username: "admin", first_name: "Admin", last_name: "", roles: ["ADMIN"], is_service_account: false };

function renderLogin() {
  renderPage(
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/manage/audit" element={<p>admin home</p>} />
    </Routes>,
    "/login",
  );
}

function signInWithPassword() {
  fireEvent.change(screen.getByLabelText(/사용자 이름/), { target: { value: "admin" } });
  fireEvent.change(screen.getByLabelText(/비밀번호/), { target: { value: "a-long-password" } });
  fireEvent.click(screen.getByRole("button", { name: "로그인" }));
}

function body(call: { init: RequestInit }) {
  return JSON.parse(String(call.init.body));
}

describe("two-factor sign-in", () => {
  it("asks for the code after the password, says when it is wrong, then signs in", async () => {
    const calls = scriptFetch(
      { status: 200, body: { csrf_token: "t" } },
      { status: 202, body: { otp_required: true, enrolment_required: false } },
      { status: 401, body: { status: 401, error: "otp_invalid", detail: "Wrong or expired code." } },
      { status: 200, body: ADMIN },
    );
    renderLogin();
    signInWithPassword();
    const code = await screen.findByLabelText(/인증 코드/);
    expect(screen.queryByText("admin home")).toBeNull();

    fireEvent.change(code, { target: { value: "000000" } });
    fireEvent.click(screen.getByRole("button", { name: "확인" }));
    expect(await screen.findByText("코드가 올바르지 않거나 만료되었습니다.")).toBeTruthy();

    fireEvent.change(code, { target: { value: " 123 456 " } });
    fireEvent.click(screen.getByRole("button", { name: "확인" }));
    expect(await screen.findByText("admin home")).toBeTruthy();
    expect(calls[3].url).toBe("/api/auth/login/otp");
    expect(body(calls[3])).toEqual({ code: "123 456" });
  });

  it("enrols an authenticator at the first sign-in and shows the recovery codes once", async () => {
    const codes = ["abcd2345", "efgh6723"];
    const calls = scriptFetch(
      { status: 200, body: { csrf_token: "t" } },
      { status: 202, body: { otp_required: false, enrolment_required: true } },
      { status: 201, body: { secret: "JBSWY3DPEHPK3PXP", otpauth_uri: "otpauth://totp/CDSS%3Aadmin?secret=JBSWY3DPEHPK3PXP" } },
      { status: 200, body: { recovery_codes: codes, user: ADMIN } },
    );
    renderLogin();
    signInWithPassword();
    expect((await screen.findByTestId("otp-secret")).textContent).toBe("JBSWY3DPEHPK3PXP");
    expect(screen.getByTestId("otp-uri").textContent).toContain("otpauth://totp/");
    fireEvent.change(screen.getByLabelText(/인증 코드/), { target: { value: "654321" } });
    fireEvent.click(screen.getByRole("button", { name: "등록 완료" }));

    const shown = await screen.findByTestId("recovery-codes");
    expect(shown.textContent).toContain("abcd2345");
    expect(shown.textContent).toContain("efgh6723");
    expect(screen.queryByText("admin home")).toBeNull(); // the codes stay until the person moves on
    fireEvent.click(screen.getByRole("button", { name: "계속" }));
    expect(await screen.findByText("admin home")).toBeTruthy();
    await waitFor(() => expect(calls.map((call) => call.url)).toContain("/api/auth/otp/enrolment/confirm"));
    expect(calls.filter((call) => call.url === "/api/auth/otp/enrolment")).toHaveLength(1);
  });

  it("signs in at once where no second factor is needed", async () => {
    scriptFetch({ status: 200, body: { csrf_token: "t" } }, { status: 200, body: { ...ADMIN, roles: ["DOCTOR"] } });
    renderPage(
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="/patients" element={<p>doctor home</p>} />
      </Routes>,
      "/login",
    );
    signInWithPassword();
    expect(await screen.findByText("doctor home")).toBeTruthy();
    expect(screen.queryByLabelText(/인증 코드/)).toBeNull();
  });
});

describe("security page", () => {
  it("lets anyone signed in enrol an authenticator", async () => {
    const { SecurityPage } = await import("./SecurityPage");
    const calls = scriptFetch(
      { status: 201, body: { secret: "JBSWY3DPEHPK3PXP", otpauth_uri: "otpauth://totp/CDSS%3Adoctor?secret=JBSWY3DPEHPK3PXP" } },
      { status: 200, body: { recovery_codes: ["abcd2345"], user: { ...ADMIN, roles: ["DOCTOR"] } } },
    );
    renderPage(<SecurityPage />);
    fireEvent.click(screen.getByRole("button", { name: "인증 앱 등록" }));
    expect((await screen.findByTestId("otp-secret")).textContent).toBe("JBSWY3DPEHPK3PXP");
    fireEvent.change(screen.getByLabelText(/인증 코드/), { target: { value: "654321" } });
    fireEvent.click(screen.getByRole("button", { name: "등록 완료" }));
    expect((await screen.findByTestId("recovery-codes")).textContent).toContain("abcd2345");
    fireEvent.click(screen.getByRole("button", { name: "계속" }));
    expect(await screen.findByTestId("otp-enrolled")).toBeTruthy();
    expect(body(calls[1])).toEqual({ code: "654321" });
  });
});
