import { describe, expect, it } from "vitest";

import { can } from "./roles";

describe("what each role sees", () => {
  it("keeps patient data to clinical roles", () => {
    expect(can.seePatients(["NURSE"])).toBe(true);
    expect(can.seePatients(["OPS"])).toBe(false);
    expect(can.seePatients(["ADMIN"])).toBe(false);
  });
  it("lets doctors and radiology staff upload, not nurses", () => {
    expect(can.uploadDicom(["DOCTOR"])).toBe(true);
    expect(can.uploadDicom(["RIB"])).toBe(true);
    expect(can.uploadDicom(["NURSE"])).toBe(false);
  });
  it("combines several roles", () => {
    expect(can.administer(["NURSE", "ADMIN"])).toBe(true);
  });
});
