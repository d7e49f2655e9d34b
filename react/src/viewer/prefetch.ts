// Progressive loading: while a pane shows its first image, the rest of its series is fetched in the background:
// the whole series in one request (seriesRetrieve.ts), each frame decoded as its file arrives, and whatever that
// request did not bring frame by frame. Both go through Cornerstone's prefetch pool (cornerstone.ts sets how many
// at once), nearest the shown slice first: the pool serves lower priority numbers first, so with the distance as
// the priority the panes load side by side, outwards from the slices they show.
import { Enums, imageLoadPoolManager, imageLoader } from "@cornerstonejs/core";

import { releaseFrame, retrieveSeriesFrames } from "./seriesRetrieve";

/** Slice indices from `start` outwards: start, start+1, start-1, start+2, ... */
export function outwardOrder(count: number, start: number): number[] {
  const order: number[] = [];
  for (let step = 0; order.length < count; step++) {
    if (start + step < count) order.push(start + step);
    if (step > 0 && start - step >= 0) order.push(start - step);
  }
  return order;
}

const SHOWN_WAIT_MS = 3000;

/** Queue every image of a series; `onLoaded(n)` is told how many are in the cache so far (a failed one counts, so
 * that the count ends); `shown` settles when the pane has drawn its first image. Answers a function that drops
 * the images not yet started (the series is no longer shown). */
export function prefetchSeries(
  studyUid: string,
  seriesUid: string,
  imageIds: string[],
  start: number,
  onLoaded: (loaded: number) => void,
  shown: Promise<unknown>,
): () => void {
  const requestType = Enums.RequestType.Prefetch;
  const retrieval = new AbortController();
  const position = new Map(imageIds.map((imageId, index) => [imageId, index]));
  const queued = new Set<string>();
  let loaded = 0;
  const done = () => {
    loaded += 1;
    if (!retrieval.signal.aborted) onLoaded(loaded);
  };
  const queue = (imageId: string) => {
    if (queued.has(imageId) || retrieval.signal.aborted) return;
    queued.add(imageId);
    const priority = Math.abs((position.get(imageId) ?? 0) - start);
    const request = () =>
      retrieval.signal.aborted
        ? Promise.resolve()
        : imageLoader
            .loadAndCacheImage(imageId, { requestType, priority })
            .then(done, done)
            .finally(() => releaseFrame(imageId));
    imageLoadPoolManager.addRequest(request, requestType, { imageId }, priority);
  };
  // the shown slice first, alone, and the series once it is drawn (`shown`, or after SHOWN_WAIT_MS): decoding the
  // series' stream would hold up the pane's first image (the viewport's own request for that slice takes this one)
  const first = imageIds[start];
  queued.add(first);
  imageLoader
    .loadAndCacheImage(first, { requestType: Enums.RequestType.Interaction, priority: 0 })
    .then(done, done)
    .then(() => Promise.race([shown, new Promise((resolve) => setTimeout(resolve, SHOWN_WAIT_MS))]))
    .then(() => (retrieval.signal.aborted ? undefined : retrieveSeriesFrames(studyUid, seriesUid, imageIds, queue, retrieval.signal)))
    .catch(() => {}) // what it did not bring is fetched frame by frame, which retries and reports
    .finally(() => outwardOrder(imageIds.length, start).forEach((index) => queue(imageIds[index])));
  return () => {
    retrieval.abort();
    imageIds.forEach(releaseFrame);
  };
}
