// The viewports' mouse tools: one tool group per viewer (every pane's viewport joins it, so each tool works in
// every pane), and which tool the left button drives.
import {
  EllipticalROITool,
  Enums as ToolEnums,
  LengthTool,
  PanTool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
} from "@cornerstonejs/tools";
import { useEffect } from "react";

export type Tool = "wl" | "pan" | "zoom" | "length" | "ellipse";
const TOOL_NAMES: Record<Tool, string> = {
  wl: WindowLevelTool.toolName,
  pan: PanTool.toolName,
  zoom: ZoomTool.toolName,
  length: LengthTool.toolName,
  ellipse: EllipticalROITool.toolName,
};
const MEASURING = [LengthTool.toolName, EllipticalROITool.toolName];
const { Primary, Auxiliary, Secondary, Wheel } = ToolEnums.MouseBindings;

/** Window/level on the left button, pan on the middle, zoom on the right, slices on the wheel; the measuring
 * tools passive (their drawings shown and editable) until one is chosen. */
export function createToolGroup(toolGroupId: string): void {
  const group = ToolGroupManager.createToolGroup(toolGroupId);
  if (!group) return;
  for (const name of [WindowLevelTool.toolName, PanTool.toolName, ZoomTool.toolName, StackScrollTool.toolName, ...MEASURING]) group.addTool(name);
  for (const name of MEASURING) group.setToolPassive(name);
  group.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: Primary }] });
  group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: Auxiliary }] });
  group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: Secondary }] });
  group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: Wheel }] });
}

export function destroyToolGroup(toolGroupId: string): void {
  ToolGroupManager.destroyToolGroup(toolGroupId);
}

/** The chosen tool on the left button; pan and zoom keep the middle and right buttons when not chosen. */
export function useLeftButtonTool(toolGroupId: string, ready: boolean, tool: Tool): void {
  useEffect(() => {
    const group = ToolGroupManager.getToolGroup(toolGroupId);
    if (!group || !ready) return;
    for (const name of Object.values(TOOL_NAMES)) group.setToolPassive(name);
    group.setToolActive(TOOL_NAMES[tool], { bindings: [{ mouseButton: Primary }] });
    if (tool !== "pan") group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: Auxiliary }] });
    if (tool !== "zoom") group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: Secondary }] });
  }, [tool, ready, toolGroupId]);
}
