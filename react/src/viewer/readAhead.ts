// Reading a study's images ahead of its viewer: the viewer's code (Cornerstone3D, a few MB) takes a while to
// arrive and to be parsed, and until now nothing was asked of the PACS meanwhile. A study page asks for the
// viewer's chunk as it opens (requestStudyViewer); as soon as it knows its study, the DICOMweb reads the viewer
// opens with are started: the series (QIDO-RS), then the metadata of the series its opening layout shows
// (layout.ts). The viewer's own requests for those paths take these answers (dicomweb.ts), so nothing is
// fetched twice.
import { dicomwebPath, fetchAhead, seriesSummaries } from "./dicomweb";
import { imageSeriesOf, openingLayout } from "./layout";

export const loadStudyViewer = () => import("./StudyViewer");

/** Ask for the viewer's chunk now (once: the module is kept); a study page calls this before it has its study. */
export function requestStudyViewer(): void {
  void loadStudyViewer().catch(() => {}); // a failed chunk is the viewer's to report, when it is rendered
}

/** The viewer's first reads (its chunk is asked for by the study page, and by the lazy viewer as it renders). */
export function readStudyAhead(studyUid: string): void {
  fetchAhead(dicomwebPath.series(studyUid))
    .then((rows) => {
      const { slots } = openingLayout(studyUid, imageSeriesOf(seriesSummaries(rows)));
      for (const spec of slots) if (spec) fetchAhead(dicomwebPath.metadata(studyUid, spec.seriesUid));
    })
    .catch(() => {}); // the viewer asks again, and says what went wrong
}
