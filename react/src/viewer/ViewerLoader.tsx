import { Alert, Center, Text } from "@mantine/core";
import { Suspense, lazy, useEffect } from "react";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import type { PriorComparisonProps } from "./PriorComparison";
import { setPacsUnavailable, usePacsUnavailable } from "./pacsStatus";
import type { StudyViewerProps } from "./StudyViewer";

// Cornerstone3D, its codecs and workers come in their own chunks, fetched when a viewer first opens.
const StudyViewer = lazy(() => import("./StudyViewer"));
const PriorComparison = lazy(() => import("./PriorComparison"));

/** Said while the PACS does not answer (503s being retried), above whichever viewer is open. */
export function PacsNotice() {
  const { t } = useTranslation();
  const unavailable = usePacsUnavailable();
  useEffect(() => setPacsUnavailable(false), []); // an earlier viewer's outage is not this one's
  if (!unavailable) return null;
  return (
    <Alert color="orange" role="status" data-testid="pacs-unavailable" mb="xs">
      {t("viewer.pacsUnavailable")}
    </Alert>
  );
}

function Lazily({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  // words, not a spinner (as in the viewer's toolbar): the chunk is parsed while this shows
  return (
    <>
      <PacsNotice />
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
    </>
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
