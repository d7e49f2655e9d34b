import { describe, expect, it } from "vitest";

import { brainSeries, guessSequence } from "./sequences";

describe("guessSequence", () => {
  it.each([
    ["T1 AX", "T1"],
    ["Sag MPRAGE", "T1"],
    ["AX T1 POST GD", "T1C"],
    ["AX T1 POST GAD", "T1C"],
    ["T1+C", "T1C"],
    ["MPRAGE post", "T1C"],
    ["GAD T1 AX", "T1C"],
    ["T2 TSE", "T2"],
    ["AX FSE", "T2"],
    ["FLAIR AX", "FLAIR"],
    ["T2 FLAIR", "FLAIR"],
    ["T2 FLAIR AX", "FLAIR"],
    ["DWI", null],
    ["ADC map", null],
    ["series 5", null],
    ["", null],
  ])("%s is %s", (description, expected) => {
    expect(guessSequence(description)).toBe(expected);
  });
});

describe("brainSeries", () => {
  const series = (uid: string, description: string, instances?: number) => ({ uid, modality: "MR", description, instances });

  it("orders T1, T1C, T2, FLAIR and takes the largest series of a type", () => {
    const chosen = brainSeries([
      series("flair", "AX FLAIR", 20),
      series("t2", "AX T2", 20),
      series("t1-small", "AX T1", 10),
      series("t1", "SAG MPRAGE", 150),
      series("dwi", "DWI", 30),
      series("t1c", "AX T1 POST GD", 20),
    ]);
    expect(chosen?.map((item) => [item.sequence, item.series.uid])).toEqual([
      ["T1", "t1"],
      ["T1C", "t1c"],
      ["T2", "t2"],
      ["FLAIR", "flair"],
    ]);
  });

  it("needs two of the types", () => {
    expect(brainSeries([series("a", "AX T1"), series("b", "DWI"), series("c", "Localizer")])).toBeNull();
    expect(brainSeries([series("a", "AX T1"), series("b", "AX T2")])?.map((item) => item.sequence)).toEqual(["T1", "T2"]);
  });
});
