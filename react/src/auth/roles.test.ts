import { describe, expect, it } from "vitest";

import { can, homePath } from "./roles";

describe("what each role sees", () => {
  it("keeps patient data to clinical roles", () => {
    expect(can.seePatients(["NURSE"])).toBe(true);
    expect(can.seePatients(["OPS"])).toBe(false);
    expect(can.seePatients(["ADMIN"])).toBe(false);
    expect(can.seeImaging(["OPS"])).toBe(false);
  });
  it("lets doctors and radiology staff upload, not nurses", () => {
    expect(can.uploadDicom(["DOCTOR"])).toBe(true);
    expect(can.uploadDicom(["RIB"])).toBe(true);
    expect(can.uploadDicom(["NURSE"])).toBe(false);
  });
  it("keeps ordering to doctors and sign-off to radiologists", () => {
    expect(can.orderImaging(["DOCTOR"])).toBe(true);
    expect(can.orderImaging(["RIB"])).toBe(false);
    expect(can.reviewAiResults(["RIB", "RADIOLOGIST"])).toBe(true);
    expect(can.reviewAiResults(["RIB"])).toBe(false); // a radiographer
    expect(can.seeSignOffWorklist(["RIB"])).toBe(false);
    expect(can.seeSignOffWorklist(["RIB", "RADIOLOGIST"])).toBe(true);
    expect(can.reviewAiResults(["DOCTOR"])).toBe(false);
    expect(can.requestAnalysis(["NURSE"])).toBe(false);
  });
  it("combines several roles", () => {
    expect(can.administer(["NURSE", "ADMIN"])).toBe(true);
  });
  it("lands each role on a screen it may use", () => {
    expect(homePath(["NURSE"])).toBe("/patients");
    expect(homePath(["ADMIN"])).toBe("/manage/audit");
    expect(homePath(["OPS"])).toBe("/ops");
    expect(homePath(["SERVICE"])).toBe("/notifications");
  });
});
