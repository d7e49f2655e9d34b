import { Center, Text } from "@mantine/core";
import { Suspense, lazy } from "react";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import type { PriorComparisonProps } from "./PriorComparison";
import type { StudyViewerProps } from "./StudyViewer";

// Cornerstone3D, its codecs and workers come in their own chunks, fetched when a viewer first opens.
const StudyViewer = lazy(() => import("./StudyViewer"));
const PriorComparison = lazy(() => import("./PriorComparison"));

function Lazily({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  // words, not a spinner (as in the viewer's toolbar): the chunk is parsed while this shows
  return (
    <Suspense
      fallback={
        <Center h={300}>
          <Text size="sm" c="dimmed">
            {t("viewer.loadingImages")}
          </Text>
        </Center>
      }
    >
      {children}
    </Suspense>
  );
}

export function LazyStudyViewer(props: StudyViewerProps) {
  return (
    <Lazily>
      <StudyViewer {...props} />
    </Lazily>
  );
}

export function LazyPriorComparison(props: PriorComparisonProps) {
  return (
    <Lazily>
      <PriorComparison {...props} />
    </Lazily>
  );
}
