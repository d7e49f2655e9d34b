// Progressive loading: after a pane shows its first image, the rest of its series is fetched in the
// background through Cornerstone's prefetch pool (cornerstone.ts sets how many at once), nearest the shown
// slice first: the pool serves lower priority numbers first, so with the distance as the priority the panes
// load side by side, outwards from the slices they show.
import { Enums, imageLoadPoolManager, imageLoader } from "@cornerstonejs/core";

/** Slice indices from `start` outwards: start, start+1, start-1, start+2, ... */
export function outwardOrder(count: number, start: number): number[] {
  const order: number[] = [];
  for (let step = 0; order.length < count; step++) {
    if (start + step < count) order.push(start + step);
    if (step > 0 && start - step >= 0) order.push(start - step);
  }
  return order;
}

/** Queue every image; `onLoaded(n)` is told how many are in the cache so far (a failed one counts, so that
 * the count ends). Answers a function that drops the images not yet started (the series is no longer shown). */
export function prefetchImages(imageIds: string[], start: number, onLoaded: (loaded: number) => void): () => void {
  const requestType = Enums.RequestType.Prefetch;
  let cancelled = false;
  let loaded = 0;
  const done = () => {
    loaded += 1;
    if (!cancelled) onLoaded(loaded);
  };
  for (const index of outwardOrder(imageIds.length, start)) {
    const imageId = imageIds[index];
    const priority = Math.abs(index - start);
    const request = () => (cancelled ? Promise.resolve() : imageLoader.loadAndCacheImage(imageId, { requestType, priority }).then(done, done));
    imageLoadPoolManager.addRequest(request, requestType, { imageId }, priority);
  }
  return () => {
    cancelled = true;
  };
}
