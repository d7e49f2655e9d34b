// The study's saved measurements drawn on the series shown (in every pane showing this study), and saving what
// was drawn on them since as a new SR.
import { useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../api/client";
import { useMeasurements, useSaveMeasurements } from "../api/radiology";
import { drawSaved, drawnMeasurements, removeDrawn } from "./measurements";

export interface MeasurementLayerOptions {
  studyId: number;
  viewportId: string;
  /** A viewport element showing this study (the annotations are added through it). */
  element: HTMLDivElement | null;
  /** The image ids of the series shown, once loaded. */
  imageIds: string[];
}

/** The API's detail and every problem it names (fields nest: measurements[i].points ...), in one line. */
export function problemText(caught: unknown): string {
  if (!(caught instanceof ApiError) || !caught.body) return caught instanceof Error ? caught.message : String(caught);
  const problems: string[] = [];
  const collect = (value: unknown): void => {
    if (typeof value === "string") problems.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === "object") Object.values(value).forEach(collect);
  };
  collect(caught.body.fields);
  return [caught.body.detail, ...new Set(problems)].filter(Boolean).join(" · ");
}

export function useMeasurementLayer({ studyId, viewportId, element, imageIds }: MeasurementLayerOptions) {
  const { t } = useTranslation();
  const reports = useMeasurements(studyId);
  const save = useSaveMeasurements(studyId);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  useEffect(() => {
    if (reports.data && imageIds.length && element) drawSaved(reports.data, imageIds, element, viewportId);
  }, [reports.data, imageIds, element, viewportId]);

  const saveDrawn = useCallback(async () => {
    const drawn = drawnMeasurements(imageIds);
    if (!drawn.length) {
      setMessage({ ok: false, text: t("viewer.nothingToSave") });
      return;
    }
    try {
      await save.mutateAsync(drawn);
      removeDrawn(imageIds); // the saved report's locked copies are drawn once the list is read again
      setMessage({ ok: true, text: t("viewer.measurementsSaved", { count: drawn.length }) });
    } catch (caught) {
      setMessage({ ok: false, text: t("viewer.measurementsFailed", { detail: problemText(caught) }) });
    }
  }, [imageIds, save, t]);

  return { save: saveDrawn, saving: save.isPending, message };
}
