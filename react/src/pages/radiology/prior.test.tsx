import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { Route, Routes } from "react-router";

import { page, routeFetch } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { StudyPage } from "./StudyPage";

vi.mock("../../viewer/ViewerLoader", () => ({
  LazyStudyViewer: ({ studyId }: { studyId: number }) => <div data-testid="viewer-stub">{studyId}</div>,
  LazyPriorComparison: ({ current, prior }: { current: { id: number }; prior: { id: number } }) => (
    <div data-testid="comparison-stub">
      {current.id} vs {prior.id}
    </div>
  ),
}));

// Mantine's dropdown scrolls the chosen option into view; jsdom has no layout to scroll.
Element.prototype.scrollIntoView ??= () => {};

const RIB = { id: 2, username: "rib", first_name: "", last_name: "", roles: ["RIB", "RADIOLOGIST"], is_service_account: false };
const study = (id: number, study_date: string, description = "Brain MRI") => ({
  id, study_instance_uid: `1.2.${id}`, orthanc_id: `o${id}`, patient: "p-1", status: "LINKED", reconciliation_reason: "", dicom_patient_id: "MRN-1",
  dicom_patient_name: "KIM", accession_number: "", order: null, modality: "MR", study_date, description, number_of_series: 4, number_of_instances: 380,
  source: "upload", created_at: "2026-12-01T10:00:00Z", updated_at: "2026-12-01T10:00:00Z", in_pacs: true, series: [],
});

function open(listed: ReturnType<typeof study>[]) {
  const calls = routeFetch([
    [/\/api\/radiology\/studies\/\d+\/measurements$/, []],
    [/\/api\/radiology\/studies\?/, page(listed)],
    ["/api/radiology/studies/7", study(7, "2026-11-24")],
    ["/api/radiology/studies/5", study(5, "2026-09-01", "Follow-up")],
    ["/api/radiology/studies/3", { ...study(3, "2026-06-02"), in_pacs: false }],
    ["/api/radiology/studies/2", study(2, "2026-03-01", "Baseline")],
    ["/api/ai/models", { models: [] }],
    ["/api/ai/jobs", page([])],
  ]);
  renderPage(
    <Routes>
      <Route path="/radiology/studies/:studyId" element={<StudyPage me={RIB} />} />
    </Routes>,
    "/radiology/studies/7",
  );
  return calls;
}

describe("compare with prior on the study page", () => {
  it("opens the most recent earlier study in the PACS beside the current one, offers the others, and closes", async () => {
    const calls = open([study(7, "2026-11-24"), study(5, "2026-09-01"), study(3, "2026-06-02"), study(2, "2026-03-01")]);
    expect((await screen.findByTestId("viewer-stub")).textContent).toBe("7");
    fireEvent.click(await screen.findByRole("button", { name: "이전 검사와 비교" }));
    expect((await screen.findByTestId("comparison-stub")).textContent).toBe("7 vs 5");
    expect(calls.some((call) => call.url === "/api/radiology/studies?patient=p-1&date_to=2026-11-24&modality=MR")).toBe(true);

    fireEvent.click(screen.getByRole("combobox", { name: "이전 검사" }));
    const options = await screen.findAllByRole("option", { hidden: true }); // still in its opening transition
    expect(options.map((option) => option.textContent)).toEqual(["2026-09-01 · Follow-up", "2026-03-01 · Baseline"]); // 2026-06-02: not in this PACS
    fireEvent.click(options[1]);
    await waitFor(() => expect(screen.getByTestId("comparison-stub").textContent).toBe("7 vs 2"));

    fireEvent.click(screen.getByRole("button", { name: "비교 닫기" }));
    expect((await screen.findByTestId("viewer-stub")).textContent).toBe("7");
  });

  it("says when the patient has no earlier study", async () => {
    open([study(7, "2026-11-24")]);
    expect((await screen.findByTestId("no-prior")).textContent).toBe("PACS에 이 환자의 이전 검사가 없습니다");
  });
});
