import type { DirectoryListing } from '@tsbuild/oci-layout';

/** Entries kept at most (about 100 bytes each): a tree bigger than this is listed again past it. */
const KEPT_ENTRIES = 320_000;

/**
 * The directory listings a COPY's stat walk (its cache key) made, kept for
 * the walk that writes its layer on a miss, which then lists no directory a
 * second time: the layer's headers carry the very lstat the key was worked
 * out from. Each is taken once; a new key walk drops what the last one left.
 */
export class KeptListings {
  private readonly kept = new Map<string, DirectoryListing>();
  private entries = 0;
  /** Bumped by clear: a listing of an earlier walk that arrives late is not kept. */
  private walk = 0;

  /**
   * A fresh start for a key walk: what it returns keeps the listing of a
   * directory (an absolute path) while the budget lasts and no later walk began.
   */
  begin(): (dir: string, listing: DirectoryListing) => void {
    this.clear();
    const walk = this.walk;
    return (dir, listing) => {
      if (walk !== this.walk || this.kept.has(dir) || this.entries + listing.length > KEPT_ENTRIES) return;
      this.kept.set(dir, listing);
      this.entries += listing.length;
    };
  }

  /** The kept listing of `dir`, which is kept no longer. */
  take(dir: string): DirectoryListing | undefined {
    const listing = this.kept.get(dir);
    if (listing) {
      this.kept.delete(dir);
      this.entries -= listing.length;
    }
    return listing;
  }

  clear(): void {
    this.kept.clear();
    this.entries = 0;
    this.walk++;
  }
}
