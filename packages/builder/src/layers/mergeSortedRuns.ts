import { compareLayerPaths } from '@tsbuild/oci-layout';

/** One item of a run: its layer path, its rank, and how to make its entry once it is known to be written. */
export interface RunItem<T> {
  key: string;
  /** Where two items name one path, the higher rank wins, as a later write over an earlier one. */
  rank: number;
  make: () => T;
}

interface Head<T> {
  item: RunItem<T>;
  rest: Iterator<RunItem<T>>;
}

function before<T>(a: Head<T>, b: Head<T>): boolean {
  const order = compareLayerPaths(a.item.key, b.item.key);
  return order < 0 || (order === 0 && a.item.rank > b.item.rank);
}

/**
 * Merges runs, each already in layer order, into one stream in layer order,
 * one item per path (the highest-ranked). Nothing is collected: memory
 * follows the number of runs, not of items. A binary heap, since a glob can
 * name many directories.
 */
export function* mergeSortedRuns<T>(runs: Iterable<RunItem<T>>[]): Generator<T> {
  const heap: Head<T>[] = [];
  const push = (head: Head<T>) => {
    heap.push(head);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  };
  const pop = (): Head<T> => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < heap.length && before(heap[l]!, heap[best]!)) best = l;
        if (r < heap.length && before(heap[r]!, heap[best]!)) best = r;
        if (best === i) break;
        [heap[i], heap[best]] = [heap[best]!, heap[i]!];
        i = best;
      }
    }
    return top;
  };
  const advance = (rest: Iterator<RunItem<T>>) => {
    const next = rest.next();
    if (!next.done) push({ item: next.value, rest });
  };
  for (const run of runs) advance(run[Symbol.iterator]());
  while (heap.length > 0) {
    const winner = pop();
    // The same path from lower-ranked runs is dropped unmade.
    while (heap.length > 0 && heap[0]!.item.key === winner.item.key) {
      const loser = pop();
      advance(loser.rest);
    }
    yield winner.item.make();
    advance(winner.rest);
  }
}
