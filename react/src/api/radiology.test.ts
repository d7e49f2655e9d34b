import { describe, expect, it } from "vitest";

import { modalityText } from "./radiology";

describe("modalityText", () => {
  it("lists a study's modalities with commas, skipping empty ones", () => {
    expect(modalityText("MR\\SEG")).toBe("MR, SEG");
    expect(modalityText("CT")).toBe("CT");
    expect(modalityText("MR\\\\SEG\\")).toBe("MR, SEG");
    expect(modalityText("")).toBe("");
  });
});
