import { act, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { SignedInRoutes } from "./App";
import i18n, { toggleLanguage } from "./i18n";
import { page, routeFetch } from "./test/fakes";
import { renderPage } from "./test/render";

afterEach(async () => {
  await i18n.changeLanguage("ko");
  localStorage.clear();
});

describe("languages", () => {
  it("starts in Korean and switches to English, remembering the choice", async () => {
    routeFetch([["/api/radiology/studies", page([])]]);
    renderPage(<SignedInRoutes me={{ id: 1, username: "rib", first_name: "", last_name: "", roles: ["RIB"], is_service_account: false }} />, "/radiology");
    expect(await screen.findByText("영상 작업목록", { selector: "h3" })).toBeTruthy();
    act(() => toggleLanguage());
    expect(await screen.findByText("Imaging worklist", { selector: "h3" })).toBeTruthy();
    expect(screen.getAllByRole("link", { name: "DICOM upload" }).length).toBeGreaterThan(0);
    expect(localStorage.getItem("cdss.language")).toBe("en");
    expect(document.documentElement.lang).toBe("en");
  });
});
