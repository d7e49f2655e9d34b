import { Center, Loader } from "@mantine/core";
import { Suspense, lazy } from "react";

import type { StudyViewerProps } from "./StudyViewer";

// Cornerstone3D, its codecs and workers come in their own chunks, fetched when a viewer first opens.
const StudyViewer = lazy(() => import("./StudyViewer"));

export function LazyStudyViewer(props: StudyViewerProps) {
  return (
    <Suspense
      fallback={
        <Center h={300}>
          <Loader />
        </Center>
      }
    >
      <StudyViewer {...props} />
    </Suspense>
  );
}
