import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { qidoSeries, seriesMetadata } from "./dicomweb";
import { readStudyAhead } from "./readAhead";

const row = (uid: string, modality: string, description: string, number: number) => ({
  "0020000E": { Value: [uid] },
  "00080060": { Value: [modality] },
  "0008103E": { Value: [description] },
  "00200011": { Value: [number] },
});
const SERIES = [row("1", "MR", "T1 AX", 1), row("2", "MR", "T1 AX post GD", 2), row("3", "MR", "T2 AX", 3), row("4", "MR", "FLAIR AX", 4), row("9", "SEG", "AI segmentation", 9), row("5", "MR", "DWI", 5)];

let asked: string[] = [];

beforeEach(() => {
  asked = [];
  vi.stubGlobal("fetch", async (url: string) => {
    const path = url.replace(/^.*\/dicom-web\//, "");
    asked.push(path);
    const body = path.endsWith("/series") ? SERIES : [{ "00080018": { Value: [`sop-of-${path}`] } }];
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/dicom+json" } });
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const settled = () => new Promise((done) => setTimeout(done, 0));

describe("reading a study ahead of its viewer", () => {
  it("asks for the series, then the metadata of the opening layout's series only, once each", async () => {
    const STUDY = "1.2.3";
    readStudyAhead(STUDY);
    await settled();
    expect(asked).toEqual([
      `studies/${STUDY}/series`,
      ...["1", "2", "3", "4"].map((uid) => `studies/${STUDY}/series/${uid}/metadata`), // T1, T1C, T2, FLAIR: not the SEG, not the DWI
    ]);
    // the viewer's own requests take those answers
    expect((await qidoSeries(STUDY)).map((item) => item.uid)).toEqual(["1", "2", "3", "4", "5", "9"]);
    expect(await seriesMetadata(STUDY, "2")).toEqual([{ "00080018": { Value: [`sop-of-studies/${STUDY}/series/2/metadata`] } }]);
    expect(asked).toHaveLength(5);
    // taken once: asked again (a series reopened), it is read afresh
    await seriesMetadata(STUDY, "2");
    expect(asked.slice(5)).toEqual([`studies/${STUDY}/series/2/metadata`]);
  });

  it("does not hand out an answer read ahead too long ago", async () => {
    const STUDY = "1.2.4"; // each test its own study: what was read ahead stays for the module's life
    vi.useFakeTimers({ toFake: ["Date"] });
    readStudyAhead(STUDY);
    await settled();
    vi.setSystemTime(Date.now() + 31_000);
    await seriesMetadata(STUDY, "1");
    expect(asked.filter((path) => path.endsWith("/1/metadata"))).toHaveLength(2);
  });

  it("reading the same study ahead twice asks once", async () => {
    const STUDY = "1.2.5";
    readStudyAhead(STUDY);
    readStudyAhead(STUDY);
    await settled();
    expect(asked.filter((path) => path.endsWith("/series"))).toHaveLength(1);
    expect(asked.filter((path) => path.endsWith("/metadata"))).toHaveLength(4);
  });
});
