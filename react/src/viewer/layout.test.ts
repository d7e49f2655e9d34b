import { describe, expect, it } from "vitest";

import { fillSlots, openingLayout, specFor } from "./layout";
import { outwardOrder } from "./prefetch";

const series = (uid: string, description: string, instances = 10) => ({ uid, modality: "MR", description, instances, number: Number(uid) });

describe("openingLayout", () => {
  it("opens a brain MR study four-up in T1, T1C, T2, FLAIR order", () => {
    const { layout, slots } = openingLayout("1.2", [series("1", "AX FLAIR"), series("2", "AX T2"), series("3", "AX T1 POST GD"), series("4", "AX T1")]);
    expect(layout).toBe("2x2");
    expect(slots.map((spec) => [spec?.sequence, spec?.seriesUid])).toEqual([
      ["T1", "4"],
      ["T1C", "3"],
      ["T2", "2"],
      ["FLAIR", "1"],
    ]);
    expect(slots[0]).toEqual({ key: "1.2/4", studyUid: "1.2", seriesUid: "4", label: "AX T1", modality: "MR", sequence: "T1" });
  });

  it("puts two of the types side by side, three in a grid with a pane left empty", () => {
    expect(openingLayout("1.2", [series("1", "AX T1"), series("2", "FLAIR")]).layout).toBe("1x2");
    const three = openingLayout("1.2", [series("1", "T1"), series("2", "T2"), series("3", "FLAIR")]);
    expect(three.layout).toBe("2x2");
    expect(three.slots.map((spec) => spec?.sequence ?? null)).toEqual(["T1", "T2", "FLAIR", null]);
  });

  it("otherwise shows the first image series alone", () => {
    expect(openingLayout("1.2", [series("1", "Localizer"), series("2", "AX T1")])).toMatchObject({ layout: "1x1", slots: [{ seriesUid: "1" }, null, null, null] });
    expect(openingLayout("1.2", [])).toEqual({ layout: "1x1", slots: [null, null, null, null] });
  });
});

describe("fillSlots", () => {
  it("fills the new panes of a larger layout with series not shown yet", () => {
    const list = [series("1", "A"), series("2", "B"), series("3", "C")];
    const slots = [specFor("1.2", list[1]), null, null, null];
    expect(fillSlots(slots, 2, "1.2", list).map((spec) => spec?.seriesUid ?? null)).toEqual(["2", "1", null, null]);
    expect(fillSlots(slots, 4, "1.2", list).map((spec) => spec?.seriesUid ?? null)).toEqual(["2", "1", "3", null]);
    expect(specFor("1.2", { uid: "9", modality: "CT", description: "", number: 4 }).label).toBe("#4");
  });
});

describe("outwardOrder", () => {
  it("goes out from the shown slice both ways", () => {
    expect(outwardOrder(5, 2)).toEqual([2, 3, 1, 4, 0]);
    expect(outwardOrder(4, 0)).toEqual([0, 1, 2, 3]);
    expect(outwardOrder(3, 2)).toEqual([2, 1, 0]);
    expect(outwardOrder(0, 0)).toEqual([]);
  });
});
