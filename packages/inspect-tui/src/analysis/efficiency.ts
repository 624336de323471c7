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

/** Per-path columns, indexed by the order paths were first seen; grown by doubling. */
class TallyColumns {
  cumulative = new Float64Array(0);
  /** -1 until a size is seen: dive keeps the -1 of a path whose whiteout it could not size. */
  min = new Float64Array(0);
  count = new Uint32Array(0);
  /** Most paths are seen once: that occurrence is kept inline, a list only made for repeats. */
  firstLayer = new Int32Array(0);
  firstSize = new Float64Array(0);
  firstRemoved = new Uint8Array(0);

  ensure(capacity: number): void {
    if (capacity <= this.count.length) return;
    const size = Math.max(1024, this.count.length * 2);
    const grow = <T extends Float64Array | Uint32Array | Int32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(size);
      next.set(old);
      return next;
    };
    this.cumulative = grow(this.cumulative, (n) => new Float64Array(n));
    this.min = grow(this.min, (n) => new Float64Array(n));
    this.count = grow(this.count, (n) => new Uint32Array(n));
    this.firstLayer = grow(this.firstLayer, (n) => new Int32Array(n));
    this.firstSize = grow(this.firstSize, (n) => new Float64Array(n));
    this.firstRemoved = grow(this.firstRemoved, (n) => new Uint8Array(n));
  }
}

/**
 * dive's efficiency bookkeeping (dive/filetree/efficiency.go): every leaf of
 * every layer's tree adds its size to its path's cumulative size; the path's
 * smallest size is what a perfect image would have paid. A path reached for
 * the second time joins the inefficient list. Each path has one record,
 * found by its index (the caller keeps the index with the path, so no map
 * from paths is needed), and the figures live in typed columns rather than
 * an object per path: an image has hundreds of thousands of paths, nearly
 * all seen once.
 */
export class EfficiencyTally {
  /** Record index -> root-relative path (dive's `/` is added when reporting). */
  private readonly paths: string[] = [];
  private readonly columns = new TallyColumns();
  /** The occurrences after the first, of paths seen more than once. */
  private readonly more = new Map<number, PathOccurrence[]>();
  /** Indexes of the paths seen more than once, in the order they were seen the second time. */
  private readonly inefficient: number[] = [];

  /**
   * A new path's record, with nothing counted yet (a path dive could not
   * size a whiteout of keeps it so: its minimum stays -1). Returns its index.
   */
  add(path: string): number {
    const index = this.paths.length;
    this.columns.ensure(index + 1);
    this.columns.min[index] = -1;
    this.columns.firstLayer[index] = -1;
    this.paths.push(path);
    return index;
  }

  /** Counts one occurrence of the path whose record is `i`. */
  record(i: number, layerIndex: number, action: PathOccurrence['action'], sizeBytes: number): void {
    const c = this.columns;
    c.cumulative[i] += sizeBytes;
    if (c.min[i]! < 0 || sizeBytes < c.min[i]!) c.min[i] = sizeBytes;
    const count = ++c.count[i]!;
    if (count === 1) {
      c.firstLayer[i] = layerIndex;
      c.firstSize[i] = sizeBytes;
      c.firstRemoved[i] = action === 'removed' ? 1 : 0;
    } else {
      let more = this.more.get(i);
      if (!more) this.more.set(i, (more = []));
      more.push({ layerIndex, action, sizeBytes });
      if (count === 2) this.inefficient.push(i);
    }
  }

  score(): number {
    let minimum = 0;
    let discovered = 0;
    const { min, cumulative } = this.columns;
    for (let i = 0; i < this.paths.length; i++) {
      minimum += min[i]!;
      discovered += cumulative[i]!;
    }
    return discovered === 0 ? 1 : minimum / discovered;
  }

  /**
   * Largest first. dive sorts ascending (Go's sort, which keeps insertion
   * order for ties on lists this short) and reads the result backwards; a
   * stable ascending sort read backwards gives the same order.
   */
  inefficientPaths(): InefficientPath[] {
    const c = this.columns;
    const sorted = [...this.inefficient].sort((a, b) => c.cumulative[a]! - c.cumulative[b]!).reverse();
    return sorted.map((i) => ({
      path: `/${this.paths[i]}`,
      count: c.count[i]!,
      sizeBytes: c.cumulative[i]!,
      occurrences: [{ layerIndex: c.firstLayer[i]!, action: c.firstRemoved[i] ? 'removed' : 'wrote', sizeBytes: c.firstSize[i]! }, ...this.more.get(i)!],
    }));
  }
}
