// The reformat's mouse tools, one tool group over its three viewports: slices on the wheel, pan on the middle
// button, zoom on the right, and on the left the stack viewer's chosen tool, or crosshairs that move the three
// planes together. Lengths and ellipses stay with the acquired slices (they are saved against those images).
import { CrosshairsTool, Enums as ToolEnums, PanTool, StackScrollTool, ToolGroupManager, WindowLevelTool, ZoomTool } from "@cornerstonejs/tools";
import { useEffect } from "react";

import type { Tool } from "../tools";

const { Primary, Auxiliary, Secondary, Wheel } = ToolEnums.MouseBindings;

/** The left-button tools of the stack viewer that mean something on a reformat; the others get window/level. */
const LEFT: Partial<Record<Tool, string>> = { wl: WindowLevelTool.toolName, pan: PanTool.toolName, zoom: ZoomTool.toolName };

export function setUpMprTools(toolGroupId: string, viewportIds: string[], engineId: string): void {
  const group = ToolGroupManager.createToolGroup(toolGroupId);
  if (!group) return;
  for (const name of [WindowLevelTool.toolName, PanTool.toolName, ZoomTool.toolName, StackScrollTool.toolName, CrosshairsTool.toolName]) group.addTool(name);
  for (const viewportId of viewportIds) group.addViewport(viewportId, engineId);
  group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: Wheel }] });
}

/** The left button's tool. Crosshairs are switched on only once the volume is in the viewports: the tool
 * places its centre from what they show. */
export function useMprLeftButton(toolGroupId: string, ready: boolean, tool: Tool, crosshairs: boolean): void {
  useEffect(() => {
    const group = ToolGroupManager.getToolGroup(toolGroupId);
    if (!group || !ready) return;
    const left = crosshairs ? CrosshairsTool.toolName : (LEFT[tool] ?? WindowLevelTool.toolName);
    for (const name of Object.values(LEFT)) group.setToolPassive(name);
    if (!crosshairs) group.setToolDisabled(CrosshairsTool.toolName); // its lines go too
    group.setToolActive(left, { bindings: [{ mouseButton: Primary }] });
    if (left !== PanTool.toolName) group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: Auxiliary }] });
    if (left !== ZoomTool.toolName) group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: Secondary }] });
  }, [toolGroupId, ready, tool, crosshairs]);
}
