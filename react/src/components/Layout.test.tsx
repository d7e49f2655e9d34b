import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { SignedInRoutes } from "../App";
import type { Me } from "../api/types";
import { page, routeFetch } from "../test/fakes";
import { renderPage } from "../test/render";

function me(...roles: string[]): Me {
  return { id: 1, username: `user-${roles.join("-").toLowerCase()}`, first_name: "", last_name: "", roles, is_service_account: false };
}

function links() {
  return within(screen.getByRole("navigation", { name: "주 메뉴" })).getAllByRole("link").map((link) => link.getAttribute("href"));
}

describe("role-shaped navigation", () => {
  it("gives a NURSE patients and imaging but no upload", async () => {
    routeFetch([["/api/patients", page([])]]);
    renderPage(<SignedInRoutes me={me("NURSE")} />, "/patients");
    await screen.findByText("환자", { selector: "h3" });
    expect(links()).toContain("/patients");
    expect(links()).toContain("/radiology");
    expect(links()).not.toContain("/radiology/upload");
    expect(links()).not.toContain("/manage/audit");
  });

  it("tells a NURSE who opens the upload address that the role cannot use it", async () => {
    const calls = routeFetch([]);
    renderPage(<SignedInRoutes me={me("NURSE")} />, "/radiology/upload");
    expect(await screen.findByTestId("no-access")).toBeTruthy();
    expect(screen.queryByTestId("dropzone")).toBeNull();
    expect(calls).toHaveLength(0);
  });

  it("gives a DOCTOR the upload", async () => {
    routeFetch([["/api/patients", page([])]]);
    renderPage(<SignedInRoutes me={me("DOCTOR")} />, "/patients");
    await screen.findByText("환자", { selector: "h3" });
    expect(links()).toContain("/radiology/upload");
    expect(links()).toContain("/ai/jobs");
  });

  it("shows an OPS user nothing with patient data, and fetches none", async () => {
    const calls = routeFetch([]);
    renderPage(<SignedInRoutes me={me("OPS")} />, "/patients");
    expect(await screen.findByTestId("no-access")).toBeTruthy();
    const hrefs = links();
    for (const clinical of ["/patients", "/radiology", "/radiology/upload", "/ai/jobs", "/manage/audit"]) expect(hrefs).not.toContain(clinical);
    expect(hrefs).toContain("/notifications");
    expect(hrefs).toContain("/ops");
    await waitFor(() => expect(calls.filter((call) => call.url.startsWith("/api/patients"))).toHaveLength(0));
  });

  it("sends an OPS user to the operations page", async () => {
    routeFetch([["/api/ops/overview", () => ({ status: 503, body: { status: 503, error: "unavailable", detail: "x" } })]]);
    renderPage(<SignedInRoutes me={me("OPS")} />, "/");
    expect(await screen.findByText("운영 현황", { selector: "h3" })).toBeTruthy();
  });

  it("gives an ADMIN the audit log and FHIR pages, not patients", async () => {
    routeFetch([["/api/audit/events", page([])]]);
    renderPage(<SignedInRoutes me={me("ADMIN")} />, "/");
    expect(await screen.findByText("감사 로그", { selector: "h3" })).toBeTruthy();
    expect(links()).toContain("/manage/fhir");
    expect(links()).not.toContain("/patients");
  });
});
