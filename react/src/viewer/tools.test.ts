import { renderHook } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";

import { MouseBindings, resetCornerstone, toolGroups } from "../test/cornerstone";
import { createToolGroup, destroyToolGroup, useLeftButtonTool } from "./tools";
import type { Tool } from "./tools";

vi.mock("@cornerstonejs/tools", async () => (await import("../test/cornerstone")).tools);

const { Primary, Auxiliary, Secondary, Wheel } = MouseBindings;
const buttons = () => [Primary, Auxiliary, Secondary, Wheel].map((button) => toolGroups.get("tools")!.on(button));

beforeEach(() => {
  resetCornerstone();
  createToolGroup("tools");
});

describe("viewport tools", () => {
  it("set up window/level, pan, zoom and wheel scrolling (the panes' viewports join later)", () => {
    expect(toolGroups.get("tools")!.viewports).toEqual([]);
    expect(buttons()).toEqual(["WindowLevel", "Pan", "Zoom", "StackScroll"]);
    expect(toolGroups.get("tools")!.tools).toEqual(["WindowLevel", "Pan", "Zoom", "StackScroll", "Length", "EllipticalROI"]);
    destroyToolGroup("tools");
    expect(toolGroups.size).toBe(0);
  });

  it("put the chosen tool on the left button once the viewport is ready", () => {
    const { rerender } = renderHook(({ ready, tool }: { ready: boolean; tool: Tool }) => useLeftButtonTool("tools", ready, tool), {
      initialProps: { ready: false, tool: "pan" },
    });
    expect(buttons()).toEqual(["WindowLevel", "Pan", "Zoom", "StackScroll"]);
    rerender({ ready: true, tool: "pan" });
    expect(buttons()).toEqual(["Pan", undefined, "Zoom", "StackScroll"]);
    rerender({ ready: true, tool: "zoom" });
    expect(buttons()).toEqual(["Zoom", "Pan", undefined, "StackScroll"]);
    rerender({ ready: true, tool: "length" });
    expect(buttons()).toEqual(["Length", "Pan", "Zoom", "StackScroll"]);
    rerender({ ready: true, tool: "ellipse" });
    expect(buttons()).toEqual(["EllipticalROI", "Pan", "Zoom", "StackScroll"]);
    rerender({ ready: true, tool: "wl" });
    expect(buttons()).toEqual(["WindowLevel", "Pan", "Zoom", "StackScroll"]);
  });
});
