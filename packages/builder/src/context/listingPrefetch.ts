import { listDirectoryAsync, type DirectoryListing } from '@tsbuild/oci-layout';

/** Directories listed ahead of the walk at once: enough to keep the next one ready, few enough that memory does not follow the tree. */
const LISTED_AHEAD = 3;

/** A listing started on the pool: unset until it is in, and for good if it failed. */
interface Ahead {
  listing?: DirectoryListing;
}

/**
 * The listings a layer walk will ask for next, made on libuv's thread pool
 * while the walk writes what comes before them. The walk is synchronous (a
 * generator feeding the layer writer), and on a tree of small files its
 * getdents and lstat calls were a tenth of a cold build's main thread.
 *
 * The walk says what comes next (`expect`: a directory's subdirectories as
 * it lists it, which depth first come before what was expected earlier) and
 * `take`s a listing when it reaches its directory. One that is not in yet,
 * or failed, is not waited for: the walk lists that directory itself, and
 * meets the error, if there is one, there.
 */
export class ListingPrefetch {
  /** What the walk will list and no listing is started for; the next one last. */
  private readonly upcoming: string[] = [];
  private readonly started = new Map<string, Ahead>();

  /** `list`: how a listing is made on the pool (a test passes one that lets it see each listing land). */
  constructor(private readonly list: (dir: string) => Promise<DirectoryListing> = listDirectoryAsync) {}

  /** `dirs` (absolute paths, in walk order) are listed next, before anything expected earlier. */
  expect(dirs: readonly string[]): void {
    for (let i = dirs.length - 1; i >= 0; i--) this.upcoming.push(dirs[i]!);
    this.fill();
  }

  /** `dir`'s listing if the pool has made it; undefined tells the walk to list it itself. */
  take(dir: string): DirectoryListing | undefined {
    const ahead = this.started.get(dir);
    if (!ahead) {
      const at = this.upcoming.lastIndexOf(dir);
      if (at >= 0) this.upcoming.splice(at, 1);
      return undefined;
    }
    this.started.delete(dir);
    this.fill();
    return ahead.listing;
  }

  /** Whether `dir`'s listing is in, so taking it now costs the walk no listing of its own. */
  ready(dir: string): boolean {
    return this.started.get(dir)?.listing !== undefined;
  }

  private fill(): void {
    while (this.started.size < LISTED_AHEAD && this.upcoming.length > 0) {
      const dir = this.upcoming.pop()!;
      const ahead: Ahead = {};
      this.started.set(dir, ahead);
      // A failure leaves `listing` unset: the walk lists the directory again and reports that error itself.
      this.list(dir).then((listing) => void (ahead.listing = listing), () => {});
    }
  }
}
