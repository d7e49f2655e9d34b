import { Alert, Center, Text } from "@mantine/core";
import { Suspense, lazy, useEffect } from "react";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import type { PriorComparisonProps } from "./PriorComparison";
import { loadStudyViewer, readStudyAhead } from "./readAhead";
import { setUnanswering, useUnanswering } from "./serverStatus";
import type { StudyViewerProps } from "./StudyViewer";

// Cornerstone3D, its codecs and workers come in their own chunks, fetched when a viewer first opens (or before,
// readAhead.ts).
const StudyViewer = lazy(loadStudyViewer);
const PriorComparison = lazy(() => import("./PriorComparison"));

/** Said while the PACS, or the CDSS itself, does not answer (503s being retried), above whichever viewer is open. */
export function UnansweringNotice() {
  const { t } = useTranslation();
  const unanswering = useUnanswering();
  useEffect(() => setUnanswering(null), []); // an earlier viewer's outage is not this one's
  if (!unanswering) return null;
  return (
    <Alert color="orange" role="status" data-testid="server-unanswering" data-server={unanswering} mb="xs">
      {t(unanswering === "cdss" ? "viewer.cdssUnavailable" : "viewer.pacsUnavailable")}
    </Alert>
  );
}

function Lazily({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  // words, not a spinner (as in the viewer's toolbar): the chunk is parsed while this shows
  return (
    <>
      <UnansweringNotice />
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
  const { studyUid } = props;
  useEffect(() => readStudyAhead(studyUid), [studyUid]);
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
