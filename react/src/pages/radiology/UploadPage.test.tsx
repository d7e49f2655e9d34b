import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { fakeXhr } from "../../test/fakes";
import { renderPage } from "../../test/render";
import { UploadPage } from "./UploadPage";

function choose(files: File[]) {
  const input = screen.getByTestId("file-input") as HTMLInputElement;
  Object.defineProperty(input, "files", { value: files, configurable: true });
  fireEvent.change(input);
}

function dicom(name: string, size = 100): File {
  return new File([new Uint8Array(size)], name, { type: "application/dicom" });
}

afterEach(() => {
  document.cookie = "csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT";
});

describe("DICOM upload", () => {
  it("shows per-file and overall progress, then each file's result, and sends the CSRF header", async () => {
    document.cookie = "csrftoken=tok123";
    const sent = fakeXhr({
      status: 201,
      progress: [50, 150, 220],
      total: 220,
      body: {
        counts: { stored: 1, already_stored: 0, rejected: 1 },
        results: [
          { file: "a.dcm", status: "stored", study_instance_uid: "1.2.3", sop_instance_uid: "1.2.3.4" },
          { file: "b.txt", status: "rejected", code: "invalid_dicom", reason: "File is missing DICOM File Meta Information header" },
        ],
        studies: [{ id: 7, study_instance_uid: "1.2.3", status: "LINKED" }],
      },
    });
    renderPage(<UploadPage />);
    choose([dicom("a.dcm"), dicom("b.txt")]);

    const rows = await screen.findAllByTestId("upload-row");
    expect(rows).toHaveLength(2);
    await screen.findByTestId("upload-summary");
    expect(within(rows[0]).getByText("저장됨")).toBeTruthy();
    expect(within(rows[1]).getByText("거부됨")).toBeTruthy();
    expect(within(rows[1]).getByText(/missing DICOM File Meta/)).toBeTruthy();
    expect(screen.getByTestId("overall-progress").textContent).toBeDefined();
    expect(screen.getByText(/100%/)).toBeTruthy();
    expect(screen.getByRole("link", { name: /1\.2\.3/ }).getAttribute("href")).toBe("/radiology/studies/7");
    expect(sent).toHaveLength(1);
    expect(sent[0].url).toBe("/api/radiology/uploads");
    expect(sent[0].headers["X-CSRFToken"]).toBe("tok123");
    expect(sent[0].headers["Accept-Language"]).toBe("ko"); // the API's messages in the web UI's language
    expect((sent[0].body.getAll("files") as File[]).map((part) => part.name)).toEqual(["a.dcm", "b.txt"]);
    const bars = screen.getAllByRole("progressbar");
    expect(bars.map((bar) => bar.getAttribute("aria-valuenow"))).toEqual(["100", "100", "100"]);
  });

  it("moves each file's bar while the request is still being sent", async () => {
    let release = () => {};
    const hold = new Promise<void>((resolve) => (release = resolve));
    fakeXhr({ status: 201, progress: [60], total: 220, hold, body: { counts: { stored: 2, already_stored: 0, rejected: 0 }, results: [], studies: [] } });
    renderPage(<UploadPage />);
    choose([dicom("a.dcm"), dicom("b.dcm")]);
    await waitFor(() => expect(screen.getAllByRole("progressbar").map((bar) => bar.getAttribute("aria-valuenow"))).toEqual(["25", "50", "0"]));
    expect(screen.getAllByText("전송 중…")).toHaveLength(2);
    release();
    await screen.findByTestId("upload-summary");
  });

  it("lists every file of a zip with its own result", async () => {
    fakeXhr({
      status: 200,
      body: {
        counts: { stored: 0, already_stored: 2, rejected: 0 },
        results: [
          { file: "s/1.dcm", status: "already_stored" },
          { file: "s/2.dcm", status: "already_stored" },
        ],
        studies: [],
      },
    });
    renderPage(<UploadPage />);
    choose([new File([new Uint8Array(10)], "study.zip", { type: "application/zip" })]);
    await screen.findByTestId("upload-summary");
    expect(screen.getAllByText("이미 저장됨")).toHaveLength(2);
    expect(screen.getByText("s/2.dcm")).toBeTruthy();
  });

  it("shows the reasons when nothing was stored (400 with per-file results)", async () => {
    fakeXhr({
      status: 400,
      body: { status: 400, error: "upload_rejected", detail: "No file was stored", counts: { stored: 0, already_stored: 0, rejected: 1 }, results: [{ file: "x.dcm", status: "rejected", reason: "not DICOM" }], studies: [] },
    });
    renderPage(<UploadPage />);
    choose([dicom("x.dcm")]);
    expect(await screen.findByText("not DICOM")).toBeTruthy();
  });

  it("marks the files as not sent when the server refuses the request", async () => {
    fakeXhr({ status: 413, body: { status: 413, error: "too_large", detail: "The request is larger than the limit" } });
    renderPage(<UploadPage />);
    choose([dicom("big.dcm")]);
    expect(await screen.findByText(/전송 실패: The request is larger/)).toBeTruthy();
    await waitFor(() => expect(screen.getByTestId("upload-summary").textContent).toContain("전송 실패: 1"));
  });
});
