import type { DirectoryListing } from '@tsbuild/oci-layout';

/** Entries kept at most (about 100 bytes each): a tree bigger than this is listed again past it. */
const KEPT_ENTRIES = 320_000;

/**
 * A directory's listing as a key walk kept it (past the budget, only its
 * fingerprint), and what that walk saw of the entries whose lstat alone does
 * not vouch for what they hold.
 */
export type KeptListing = ({ listing: DirectoryListing } | { fingerprint: string }) & {
  /**
   * By name: a link's target, and the content hash of a file the walk read so
   * soon after its last change that a rewrite could leave its ctime as it was
   * (the racy window).
   */
  witnessed: Map<string, string>;
};

/**
 * The directory listings a COPY's stat walk (its cache key) made, kept for
 * the walk that writes its layer on a miss, which then lists no directory a
 * second time: the layer's headers carry the very lstat the key was worked
 * out from, and its reads are checked against it (KeyAgreement). Past the
 * budget a directory keeps its listing's fingerprint: the layer walk lists it
 * again and must find it the same. Each is taken once; a new key walk drops
 * what the last one left.
 */
export class KeptListings {
  private readonly kept = new Map<string, KeptListing>();
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
      if (walk !== this.walk || this.kept.has(dir)) return;
      if (this.entries + listing.length > KEPT_ENTRIES) {
        this.kept.set(dir, { fingerprint: listing.fingerprint(), witnessed: new Map() });
        return;
      }
      this.kept.set(dir, { listing, witnessed: new Map() });
      this.entries += listing.length;
    };
  }

  /** What the key walk saw of `name` in `dir` (see KeptListing.witnessed), if it kept that directory's listing. */
  witness(dir: string, name: string, content: string): void {
    this.kept.get(dir)?.witnessed.set(name, content);
  }

  /** Whether a whole listing of `dir` is kept (not only its fingerprint). */
  holdsListing(dir: string): boolean {
    const kept = this.kept.get(dir);
    return kept !== undefined && 'listing' in kept;
  }

  /** The kept listing of `dir`, which is kept no longer. */
  take(dir: string): KeptListing | undefined {
    const kept = this.kept.get(dir);
    if (kept) {
      this.kept.delete(dir);
      if ('listing' in kept) this.entries -= kept.listing.length;
    }
    return kept;
  }

  clear(): void {
    this.kept.clear();
    this.entries = 0;
    this.walk++;
  }
}

/**
 * Whether a COPY's layer holds what the walk for its cache key saw. The layer
 * walk takes that walk's kept listings and checks each entry it reads: a
 * file's ctime after its read must be the listed one, and a witnessed content
 * hash or link target the same, and a directory listed again the same.
 * `changed` names the first source seen to differ; `unchecked` says some
 * source could not be compared (a directory the key's walk did not list, a
 * file streamed or named on its own), so the caller must compare by walking
 * the context again.
 */
export class KeyAgreement {
  changed?: string;
  unchecked = false;

  differs(rel: string): void {
    this.changed ??= rel;
  }
}
