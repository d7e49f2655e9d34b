import { describe, expect, it, vi } from "vitest";

import { applyPreset, fromWindow, presetRange, presetsFor, windowText } from "./presets";

describe("window presets", () => {
  it("offers the CT windows for CT, high contrast for MR", () => {
    expect(presetsFor("CT")).toEqual(["image", "fullRange", "brain", "subdural", "stroke", "bone"]);
    expect(presetsFor("MR")).toEqual(["image", "fullRange", "highContrast"]);
    expect(presetsFor(undefined)).toEqual(["image", "fullRange"]);
  });

  it("turns width and level into a range", () => {
    const pixels = { min: -1024, max: 3071 };
    expect(presetRange("brain", pixels)).toEqual({ lower: 0, upper: 80 });
    expect(presetRange("subdural", pixels)).toEqual({ lower: -32.5, upper: 182.5 });
    expect(presetRange("stroke", pixels)).toEqual({ lower: 20, upper: 60 });
    expect(presetRange("bone", pixels)).toEqual({ lower: -800, upper: 2000 });
    expect(fromWindow(400, 40)).toEqual({ lower: -160, upper: 240 });
  });

  it("spans the image's pixels, or their middle half", () => {
    expect(presetRange("fullRange", { min: 0, max: 4000 })).toEqual({ lower: 0, upper: 4000 });
    expect(presetRange("highContrast", { min: 0, max: 4000 })).toEqual({ lower: 1000, upper: 3000 });
    expect(presetRange("fullRange", { min: 7, max: 7 })).toEqual({ lower: 7, upper: 8 });
    expect(presetRange("image", { min: 0, max: 1 })).toBeNull();
  });

  it("writes a range as width and level", () => {
    expect(windowText({ lower: 0, upper: 80 })).toBe("W 80 L 40");
    expect(windowText(undefined)).toBe("");
  });
});

describe("applyPreset", () => {
  const viewport = () => ({
    getCornerstoneImage: () => ({ minPixelValue: -1000, maxPixelValue: 1000 }),
    setProperties: vi.fn(),
    resetProperties: vi.fn(),
    render: vi.fn(),
  });

  it("sets the range from the shown image, or resets to the image's own window", () => {
    const shown = viewport();
    applyPreset(shown, "highContrast");
    expect(shown.setProperties).toHaveBeenCalledWith({ voiRange: { lower: -500, upper: 500 } });
    applyPreset(shown, "bone");
    expect(shown.setProperties).toHaveBeenLastCalledWith({ voiRange: { lower: -800, upper: 2000 } });
    applyPreset(shown, "image");
    expect(shown.resetProperties).toHaveBeenCalledTimes(1);
    expect(shown.render).toHaveBeenCalledTimes(3);
  });
});
