import { column, grown, nextCapacity } from './columns.js';

/** One time a layer wrote or removed a path, as dive's efficiency counts it. */
export interface PathOccurrence {
  layerIndex: number;
  action: 'wrote' | 'removed';
  /** Bytes this occurrence counts for: the file's size, or for a removed directory everything below it. */
  sizeBytes: number;
}

/** A path seen in more than one layer. `path` is absolute, as dive prints it (`/root/saved.txt`). */
export interface InefficientPath {
  path: string;
  count: number;
  sizeBytes: number;
  occurrences: PathOccurrence[];
}

/** A record that has counted nothing yet (dive keeps the -1 minimum of a path whose whiteout it could not size). */
const UNCOUNTED = 1;
const COUNTED_ONCE = 2;
const REPEATED = 3;

/** The figures of a path seen more than once. */
interface Repeats {
  cumulative: number;
  min: number;
  /** The occurrences after the first. */
  more: PathOccurrence[];
}

/**
 * dive's efficiency bookkeeping (dive/filetree/efficiency.go): every leaf of
 * every layer's tree adds its size to its path's cumulative size; the path's
 * smallest size is what a perfect image would have paid. A path reached for
 * the second time joins the inefficient list. A path's record is found by a
 * number the caller keeps with the path (its node in the image's tree), so
 * no map from paths is needed; nearly all paths are seen once, so that one
 * occurrence is kept in typed columns and only repeats get an object.
 */
export class EfficiencyTally {
  private state = column(Uint8Array);
  private firstLayer = column(Int32Array);
  private firstSize = column(Float64Array);
  private firstRemoved = column(Uint8Array);
  private readonly repeats = new Map<number, Repeats>();
  /** Records seen more than once, in the order they were seen the second time. */
  private readonly inefficient: number[] = [];

  /** Whether `i` has a record. */
  has(i: number): boolean {
    return i < this.state.length && this.state[i] !== 0;
  }

  /** Makes record `i`, with nothing counted yet. */
  add(i: number): void {
    if (i >= this.state.length) {
      const size = nextCapacity(this.state.length, i + 1);
      this.state = grown(this.state, size);
      this.firstLayer = grown(this.firstLayer, size);
      this.firstSize = grown(this.firstSize, size);
      this.firstRemoved = grown(this.firstRemoved, size);
    }
    this.state[i] = UNCOUNTED;
  }

  /** Counts one occurrence of the path whose record is `i`. */
  record(i: number, layerIndex: number, action: PathOccurrence['action'], sizeBytes: number): void {
    const state = this.state[i];
    if (state === UNCOUNTED) {
      this.state[i] = COUNTED_ONCE;
      this.firstLayer[i] = layerIndex;
      this.firstSize[i] = sizeBytes;
      this.firstRemoved[i] = action === 'removed' ? 1 : 0;
      return;
    }
    let repeats = this.repeats.get(i);
    if (!repeats) {
      const first = this.firstSize[i]!;
      this.repeats.set(i, (repeats = { cumulative: first, min: first, more: [] }));
      this.state[i] = REPEATED;
      this.inefficient.push(i);
    }
    repeats.cumulative += sizeBytes;
    if (sizeBytes < repeats.min) repeats.min = sizeBytes;
    repeats.more.push({ layerIndex, action, sizeBytes });
  }

  score(): number {
    let minimum = 0;
    let discovered = 0;
    const { state, firstSize } = this;
    for (let i = 0; i < state.length; i++) {
      if (state[i] === UNCOUNTED) {
        minimum -= 1;
      } else if (state[i] === COUNTED_ONCE) {
        minimum += firstSize[i]!;
        discovered += firstSize[i]!;
      } else if (state[i] === REPEATED) {
        const repeats = this.repeats.get(i)!;
        minimum += repeats.min;
        discovered += repeats.cumulative;
      }
    }
    return discovered === 0 ? 1 : minimum / discovered;
  }

  /**
   * Largest first; `pathOf` names a record's root-relative path. dive sorts
   * ascending (Go's sort, which keeps insertion order for ties on lists this
   * short) and reads the result backwards; a stable ascending sort read
   * backwards gives the same order.
   */
  inefficientPaths(pathOf: (i: number) => string): InefficientPath[] {
    const cumulative = (i: number) => this.repeats.get(i)!.cumulative;
    const sorted = [...this.inefficient].sort((a, b) => cumulative(a) - cumulative(b)).reverse();
    return sorted.map((i) => {
      const { more } = this.repeats.get(i)!;
      return {
        path: `/${pathOf(i)}`,
        count: 1 + more.length,
        sizeBytes: cumulative(i),
        occurrences: [{ layerIndex: this.firstLayer[i]!, action: this.firstRemoved[i] ? 'removed' : 'wrote', sizeBytes: this.firstSize[i]! }, ...more],
      };
    });
  }
}
