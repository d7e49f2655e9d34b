// Synchronised scrolling: the panes register a handle (their slices, the shown index, how to scroll); when the
// pane the user is moving (wheel, slider, keys: "the driver") shows another slice, every other pane goes to
// its slice nearest to the same position (registration.ts). Only the driver leads, so a pane that follows
// never pushes the others back to its own, coarser, position.
import { useCallback, useMemo, useRef } from "react";

import type { PresetKey } from "./presets";
import { followingSlice } from "./registration";
import type { PaneSlices } from "./registration";

export interface PaneHandle extends PaneSlices {
  scrollTo: (index: number) => void;
  applyPreset: (key: PresetKey) => void;
}

export interface PaneSync {
  handles: () => PaneHandle[];
  /** The pane in this slot, as it registered itself (a comparison reads two panes' slices to link them). */
  handle: (slot: number) => PaneHandle | undefined;
  register: (slot: number, handle: PaneHandle | null) => void;
  /** The user is moving this pane. */
  drive: (slot: number) => void;
  /** This pane's slice changed: the others follow if it is the driver. */
  changed: (slot: number) => void;
  /** This pane has a new series: it goes to the driver's position. */
  align: (slot: number) => void;
}

export function usePaneSync(enabled: boolean): PaneSync {
  const registry = useRef(new Map<number, PaneHandle>());
  const driver = useRef<number | null>(null);
  const on = useRef(enabled);
  on.current = enabled;

  const follow = useCallback((source: PaneHandle, target: PaneHandle) => {
    const index = followingSlice(source, target);
    if (index !== null && index !== target.index) target.scrollTo(index);
  }, []);

  const changed = useCallback(
    (slot: number) => {
      const source = registry.current.get(slot);
      if (!on.current || driver.current !== slot || !source) return;
      for (const [other, target] of registry.current) if (other !== slot) follow(source, target);
    },
    [follow],
  );

  const align = useCallback(
    (slot: number) => {
      const source = driver.current === null ? undefined : registry.current.get(driver.current);
      const target = registry.current.get(slot);
      if (on.current && source && target && driver.current !== slot) follow(source, target);
    },
    [follow],
  );

  return useMemo(
    () => ({
      handles: () => [...registry.current.values()],
      handle: (slot) => registry.current.get(slot),
      register: (slot, handle) => {
        if (handle) registry.current.set(slot, handle);
        else registry.current.delete(slot);
      },
      drive: (slot) => {
        driver.current = slot;
      },
      changed,
      align,
    }),
    [changed, align],
  );
}
