import { Card, Image, ScrollArea, Stack, Text } from "@mantine/core";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";

import { thumbnailUrl } from "../api/radiology";
import type { Series } from "../api/types";
import type { SeriesSummary } from "./dicomweb";

export interface SeriesListProps {
  studyId: number;
  /** The API's series, for thumbnails by primary key. */
  apiSeries: Series[];
  /** The study's image series as QIDO lists them; null while on their way. */
  items: SeriesSummary[] | null;
  current: string | null;
  onSelect: (seriesUid: string) => void;
}

/** The study's image series as thumbnails down the viewer's side; the one shown is outlined. */
export function SeriesList({ studyId, apiSeries, items, current, onSelect }: SeriesListProps) {
  const { t } = useTranslation();
  const pkByUid = useMemo(() => new Map(apiSeries.map((item) => [item.series_instance_uid, item.id])), [apiSeries]);
  return (
    <ScrollArea h={560} w={150} type="auto">
      <Stack gap="xs">
        {items === null && (
          <Text size="xs" c="dimmed">
            {t("viewer.loadingImages")}
          </Text>
        )}
        {(items ?? []).map((item) => {
          const pk = pkByUid.get(item.uid);
          return (
            <Card
              key={item.uid}
              p={4}
              withBorder
              onClick={() => onSelect(item.uid)}
              style={{ cursor: "pointer", borderColor: item.uid === current ? "var(--mantine-color-blue-6)" : undefined }}
              data-testid="series-thumbnail"
            >
              {pk !== undefined ? (
                <Image src={thumbnailUrl(studyId, pk)} alt={item.description} h={100} fit="contain" bg="black" fallbackSrc="" />
              ) : (
                <Text size="xs" c="dimmed" h={40}>
                  {t("viewer.noThumbnail")}
                </Text>
              )}
              <Text size="xs" lineClamp={2}>
                {item.modality} {item.number ?? ""} {item.description}
              </Text>
              {item.instances !== undefined && (
                <Text size="xs" c="dimmed">
                  {t("viewer.images", { count: Number(item.instances) })}
                </Text>
              )}
            </Card>
          );
        })}
      </Stack>
    </ScrollArea>
  );
}
