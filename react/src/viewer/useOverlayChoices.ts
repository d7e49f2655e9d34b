// The overlays a viewer offers: those given (an AI result's SEG) and the study's own SEG series.
import { useMemo } from "react";
import { useTranslation } from "react-i18next";

import { TAG, qidoInstances, retrieveInstance, value } from "./dicomweb";
import type { SeriesSummary } from "./dicomweb";

export interface OverlaySource {
  key: string;
  label: string;
  load: () => Promise<ArrayBuffer>;
}

export function useOverlayChoices(overlays: OverlaySource[], segSeries: SeriesSummary[], studyUid: string): OverlaySource[] {
  const { t } = useTranslation();
  return useMemo(
    () => [
      ...overlays,
      ...segSeries.map((item) => ({
        key: `series:${item.uid}`,
        label: t("viewer.segSeries", { description: item.description || item.uid.slice(-12) }),
        load: async () => {
          const instances = await qidoInstances(studyUid, item.uid);
          const sop = value(instances[0] ?? {}, TAG.SOPInstanceUID);
          if (!sop) throw new Error(t("viewer.segEmpty"));
          return retrieveInstance(studyUid, item.uid, sop);
        },
      })),
    ],
    [overlays, segSeries, studyUid, t],
  );
}
