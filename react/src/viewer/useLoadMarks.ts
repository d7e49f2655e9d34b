// Browser performance marks of a viewer's load, for the exam load benchmark: "open" when the viewer mounts,
// "first-image" when the first pane shows its first image, "all-loaded" when every pane has all its frames.
import { useCallback, useEffect, useRef } from "react";

export const MARKS = { open: "cdss:viewer:open", firstImage: "cdss:viewer:first-image", allLoaded: "cdss:viewer:all-loaded" } as const;

function mark(name: string): void {
  if (typeof performance !== "undefined" && typeof performance.mark === "function") performance.mark(name);
}

/** `panes`: the loaded and total frame counts of the panes showing a series. */
export function useLoadMarks(panes: { loaded: number; total: number }[]): { shown: () => void } {
  const done = useRef(new Set<string>());
  const once = useCallback((name: string) => {
    if (done.current.has(name)) return;
    done.current.add(name);
    mark(name);
  }, []);

  useEffect(() => {
    // the marks measure this viewer's load, not a viewer opened earlier on the page
    if (typeof performance !== "undefined" && typeof performance.clearMarks === "function") Object.values(MARKS).forEach((name) => performance.clearMarks(name));
    mark(MARKS.open);
  }, []);

  const complete = panes.length > 0 && panes.every((pane) => pane.total > 0 && pane.loaded >= pane.total);
  useEffect(() => {
    if (complete) once(MARKS.allLoaded);
  }, [complete, once]);

  return { shown: useCallback(() => once(MARKS.firstImage), [once]) };
}
