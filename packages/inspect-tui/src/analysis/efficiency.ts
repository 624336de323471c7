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

interface PathTally {
  /** Root-relative; dive's `/` is added when reporting. */
  path: string;
  cumulative: number;
  /** -1 until a size is seen: dive keeps the -1 of a path whose whiteout it could not size. */
  min: number;
  count: number;
  /** Most paths are seen once: that occurrence is kept inline, a list only made for repeats. */
  firstLayer: number;
  firstSize: number;
  firstRemoved: boolean;
  more?: PathOccurrence[];
}

/**
 * dive's efficiency bookkeeping (dive/filetree/efficiency.go): every leaf of
 * every layer's tree adds its size to its path's cumulative size; the path's
 * smallest size is what a perfect image would have paid. A path reached for
 * the second time joins the inefficient list.
 */
export class EfficiencyTally {
  private readonly paths = new Map<string, PathTally>();
  private readonly inefficient: PathTally[] = [];

  private tally(path: string): PathTally {
    let t = this.paths.get(path);
    if (!t) {
      t = { path, cumulative: 0, min: -1, count: 0, firstLayer: -1, firstSize: 0, firstRemoved: false };
      this.paths.set(path, t);
    }
    return t;
  }

  record(path: string, layerIndex: number, action: PathOccurrence['action'], sizeBytes: number): void {
    const t = this.tally(path);
    t.cumulative += sizeBytes;
    if (t.min < 0 || sizeBytes < t.min) t.min = sizeBytes;
    t.count++;
    if (t.count === 1) {
      t.firstLayer = layerIndex;
      t.firstSize = sizeBytes;
      t.firstRemoved = action === 'removed';
    } else {
      (t.more ??= []).push({ layerIndex, action, sizeBytes });
      if (t.count === 2) this.inefficient.push(t);
    }
  }

  /** dive creates the path's record before failing to size a whiteout of a path the layers below lack. */
  recordUnsizable(path: string): void {
    this.tally(path);
  }

  score(): number {
    let minimum = 0;
    let discovered = 0;
    for (const t of this.paths.values()) {
      minimum += t.min;
      discovered += t.cumulative;
    }
    return discovered === 0 ? 1 : minimum / discovered;
  }

  /**
   * Largest first. dive sorts ascending (Go's sort, which keeps insertion
   * order for ties on lists this short) and reads the result backwards; a
   * stable ascending sort read backwards gives the same order.
   */
  inefficientPaths(): InefficientPath[] {
    const sorted = [...this.inefficient].sort((a, b) => a.cumulative - b.cumulative).reverse();
    return sorted.map((t) => ({ path: `/${t.path}`, count: t.count, sizeBytes: t.cumulative, occurrences: [{ layerIndex: t.firstLayer, action: t.firstRemoved ? 'removed' : 'wrote', sizeBytes: t.firstSize }, ...t.more!] }));
  }
}
