// The study's series by QIDO-RS: those with images for the list and the panes, SEG series for overlays.
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";

import { qidoSeries } from "./dicomweb";
import type { SeriesSummary } from "./dicomweb";
import { imageSeriesOf } from "./layout";

export function useStudySeries(studyUid: string, onError: (message: string) => void) {
  const { t } = useTranslation();
  const [seriesList, setSeriesList] = useState<SeriesSummary[] | null>(null);

  useEffect(() => {
    let cancelled = false;
    qidoSeries(studyUid)
      .then((list) => {
        if (cancelled) return;
        setSeriesList(list);
      })
      .catch((caught: unknown) => !cancelled && onError(t("viewer.loadFailed", { detail: String(caught) })));
    return () => {
      cancelled = true;
    };
  }, [studyUid, t, onError]);

  const imageSeries = useMemo(() => imageSeriesOf(seriesList ?? []), [seriesList]);
  const segSeries = useMemo(() => (seriesList ?? []).filter((item) => item.modality === "SEG"), [seriesList]);
  return { listed: seriesList !== null, imageSeries, segSeries };
}
