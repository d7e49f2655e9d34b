import { afterEach, describe, expect, it } from "vitest";

import i18n from "../i18n";
import { scriptFetch } from "../test/render";
import { ApiError, SESSION_EXPIRED_EVENT, api } from "./client";

afterEach(async () => {
  document.cookie = "csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT";
  await i18n.changeLanguage("ko");
});

describe("api()", () => {
  it("sends the CSRF token on unsafe methods only", async () => {
    document.cookie = "csrftoken=abc123";
    const calls = scriptFetch({ status: 200, body: { ok: 1 } }, { status: 204 });
    await api("/api/auth/me");
    await api("/api/auth/logout", { method: "POST" });
    expect(new Headers(calls[0].init.headers).get("X-CSRFToken")).toBeNull();
    expect(new Headers(calls[1].init.headers).get("X-CSRFToken")).toBe("abc123");
    expect(calls[1].init.credentials).toBe("same-origin");
  });

  it("asks for the API's messages in the language chosen in the web UI", async () => {
    const calls = scriptFetch({ status: 200, body: {} }, { status: 200, body: {} });
    await api("/api/auth/me");
    await i18n.changeLanguage("en");
    await api("/api/auth/me", { method: "POST", json: {} });
    expect(new Headers(calls[0].init.headers).get("Accept-Language")).toBe("ko");
    expect(new Headers(calls[1].init.headers).get("Accept-Language")).toBe("en");
  });

  it("turns a JSON error body into an ApiError", async () => {
    scriptFetch({ status: 503, body: { status: 503, error: "external_system", detail: "EMR down", system: "emr" } });
    const error = (await api("/api/patients/x/problems").catch((caught: unknown) => caught)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(503);
    expect(error.body?.system).toBe("emr");
  });

  it("announces an expired session", async () => {
    scriptFetch({ status: 401, body: { status: 401, error: "not_authenticated", detail: "…" } });
    let announced = false;
    window.addEventListener(SESSION_EXPIRED_EVENT, () => (announced = true), { once: true });
    await api("/api/patients").catch(() => undefined);
    expect(announced).toBe(true);
  });
});
