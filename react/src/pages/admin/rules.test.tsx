import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { routeFetch } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { RulesPage } from "./RulesPage";

const RULE = {
  id: 3, name: "FLAIR to lesion model", enabled: true, order: 10, modality: "MR", sequence_type: "FLAIR", series_description: "flair",
  body_part: "", sending_ae: "", model_name: "mri-lesion-demo", model_version: "", created_at: "2026-12-04T09:00:00Z", updated_at: "2026-12-04T09:00:00Z",
};

describe("routing rules", () => {
  it("lists the rules and toggles one", async () => {
    const calls = routeFetch([
      [/\/api\/routing\/rules\/3$/, (_url, init) => ({ status: 200, body: { ...RULE, enabled: JSON.parse(String(init.body)).enabled } })],
      ["/api/routing/rules", [RULE]],
    ]);
    renderPage(<RulesPage />);
    expect(await screen.findByText("FLAIR to lesion model")).toBeTruthy();
    expect(screen.getByText("MR · FLAIR · /flair/i")).toBeTruthy();
    expect(screen.getByText("mri-lesion-demo 최신")).toBeTruthy();
    fireEvent.click(screen.getByLabelText("FLAIR to lesion model 활성화"));
    await waitFor(() => expect(calls.some((call) => call.url.endsWith("/rules/3") && call.init.method === "PATCH")).toBe(true));
    const patch = calls.find((call) => call.init.method === "PATCH");
    expect(JSON.parse(String(patch?.init.body))).toEqual({ enabled: false });
  });

  it("dry-runs the unsaved form against a study and shows why", async () => {
    const calls = routeFetch([
      ["/api/routing/rules/dry-run", () => ({ status: 200, body: { matches: true, reasons: ["series 1 (AX FLAIR): modality MR matches MR"], series_instance_uids: ["1.2"] } })],
      ["/api/routing/rules", []],
    ]);
    renderPage(<RulesPage />);
    expect(await screen.findByText("아직 규칙이 없습니다.")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "새 규칙" }));
    fireEvent.change(await screen.findByLabelText("검사 ID"), { target: { value: "42" } });
    fireEvent.click(screen.getByRole("button", { name: "이 검사로 시험" }));
    expect(await screen.findByText("series 1 (AX FLAIR): modality MR matches MR")).toBeTruthy();
    expect(screen.getByText("일치함")).toBeTruthy();
    const body = JSON.parse(String(calls.find((call) => call.url.endsWith("/dry-run"))?.init.body));
    expect(body).toMatchObject({ study: 42, rule: { modality: "MR" } });
  });

  it("saves the second-reader option and marks such a rule in the list", async () => {
    const calls = routeFetch([
      [/\/api\/routing\/rules\/3$/, (_url, init) => ({ status: 200, body: { ...RULE, ...JSON.parse(String(init.body)) } })],
      ["/api/routing/rules", [RULE, { ...RULE, id: 4, name: "double read", requires_second_reader: true }]],
    ]);
    renderPage(<RulesPage />);
    expect(await screen.findByText("double read")).toBeTruthy();
    expect(screen.getAllByText("판독자 2명")).toHaveLength(1);
    fireEvent.click(screen.getAllByRole("button", { name: "편집" })[0]);
    const option = await screen.findByLabelText("2차 판독 필요");
    expect((option as HTMLInputElement).checked).toBe(false);
    fireEvent.click(option);
    fireEvent.click(screen.getByRole("button", { name: "저장" }));
    await waitFor(() => expect(calls.some((call) => call.url.endsWith("/rules/3") && call.init.method === "PATCH")).toBe(true));
    const patch = calls.find((call) => call.init.method === "PATCH");
    expect(JSON.parse(String(patch?.init.body))).toMatchObject({ requires_second_reader: true, name: RULE.name });
  });

  it("shows the API's refusal of a pattern at its field", async () => {
    routeFetch([
      [
        "/api/routing/rules",
        (_url, init) =>
          init.method === "POST"
            ? { status: 400, body: { status: 400, error: "validation_failed", detail: "Invalid input.", fields: { series_description: ["Backreferences are not allowed in a pattern."] } } }
            : { status: 200, body: [] },
      ],
    ]);
    renderPage(<RulesPage />);
    fireEvent.click(await screen.findByRole("button", { name: "새 규칙" }));
    fireEvent.change(await screen.findByLabelText(/^이름/), { target: { value: "bad" } });
    fireEvent.click(screen.getByRole("button", { name: "저장" }));
    expect(await screen.findByText("Backreferences are not allowed in a pattern.")).toBeTruthy();
  });
});
