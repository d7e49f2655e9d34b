import { describe, expect, it } from "vitest";

import { assignResults, batches, itemsFromDrop, itemsFromFiles, spreadLoaded } from "./upload";

function file(name: string, size: number): File {
  return new File([new Uint8Array(size)], name);
}

describe("upload batches", () => {
  it("sends a zip alone and groups files by size and count", () => {
    const items = itemsFromFiles([file("a.dcm", 40), file("b.dcm", 40), file("study.zip", 10), file("c.dcm", 40)]);
    const groups = batches(items, 100, 10).map((group) => group.map((item) => item.file.name));
    expect(groups).toEqual([["study.zip"], ["a.dcm", "b.dcm"], ["c.dcm"]]);
    expect(batches(items, 1000, 2).map((group) => group.length)).toEqual([1, 2, 1]);
  });

  it("skips hidden files such as .DS_Store", () => {
    expect(itemsFromFiles([file(".DS_Store", 1), file("x.dcm", 1)]).map((item) => item.path)).toEqual(["x.dcm"]);
  });

  it("spreads the bytes sent over the files in order", () => {
    expect(spreadLoaded([100, 100], 0, 220)).toEqual([0, 0]);
    expect(spreadLoaded([100, 100], 160, 220)).toEqual([100, 50]);
    expect(spreadLoaded([100, 100], 220, 220)).toEqual([100, 100]);
  });

  it("gives each file its own result, and a zip all of them", () => {
    const items = itemsFromFiles([file("a.dcm", 1), file("b.dcm", 1)]);
    const results = [
      { file: "a.dcm", status: "stored" as const },
      { file: "b.dcm", status: "rejected" as const, reason: "not DICOM" },
    ];
    expect(assignResults(items, results)).toEqual([[results[0]], [results[1]]]);
    expect(assignResults(items, [results[1]])).toEqual([[], [results[1]]]);
    const zip = itemsFromFiles([file("s.zip", 1)]);
    expect(assignResults(zip, results)).toEqual([results]);
  });
});

describe("what is dropped", () => {
  it("walks dropped folders (in chunks, as Chromium reads them) and keeps their relative paths", async () => {
    const fileEntry = (path: string) => ({
      isFile: true,
      isDirectory: false,
      fullPath: `/${path}`,
      file: (done: (file: File) => void) => done(new File([new Uint8Array(4)], path.split("/").pop()!)),
    });
    const chunks = [[fileEntry("study/a.dcm"), fileEntry("study/.DS_Store")], [fileEntry("study/b.dcm")], []];
    const folder = {
      isFile: false,
      isDirectory: true,
      fullPath: "/study",
      createReader: () => ({ readEntries: (done: (entries: unknown[]) => void) => done(chunks.shift() ?? []) }),
    };
    const transfer = {
      items: [
        { kind: "file", webkitGetAsEntry: () => folder },
        { kind: "file", webkitGetAsEntry: () => fileEntry("loose.zip") },
      ],
      files: [],
    } as unknown as DataTransfer;
    const items = await itemsFromDrop(transfer);
    expect(items.map((item) => item.path)).toEqual(["study/a.dcm", "study/b.dcm", "loose.zip"]);
  });
});
