import { readlinkSync } from 'node:fs';
import { compareLayerPaths, decodeName, fsPath, readDirectoryListing, type ListedEntryStats } from '@tsbuild/oci-layout';
import type { ContextEntry } from './buildContext.js';
import { contentHash, type HashLearning } from './contextHashStore.js';
import { FileReadAhead, type ReadWatcher, type SmallFile } from './fileReadAhead.js';
import type { KeptListing, KeptListings, KeyAgreement } from './keptListings.js';
import { ListingPrefetch } from './listingPrefetch.js';
import { SMALL_FILE_MAX } from './readSmallFile.js';

/** Whether a walk keeps a path, enters it only for what an exception re-includes below it, or skips it. */
export type WalkDecision = 'keep' | 'descend' | 'skip';

/** A listed entry of a directory, with its name there. */
export interface ListedEntry extends ContextEntry {
  name: string;
}

/** What a layer walk reports what it reads to: the hash store learning hashes, and the check against the key's walk. */
export interface LayerReads {
  learning?: HashLearning | undefined;
  agreement?: KeyAgreement | undefined;
}

/** A directory's entries as ListedEntry values, in name order. */
export function inNameOrder(dir: ContextEntry, listed: ListedEntryStats[]): ListedEntry[] {
  const prefix = dir.rel ? `${dir.rel}/` : '';
  const absPrefix = dir.abs.endsWith('/') ? dir.abs : `${dir.abs}/`;
  listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return listed.map(({ name, stats }) => ({ name, rel: prefix + name, abs: absPrefix + name, stats }));
}

/** How a layer walk reads: LayerReads, the listings the key's walk kept, and the ones made ahead of it. */
interface TreeReads extends LayerReads {
  kept?: KeptListings;
  prefetch?: ListingPrefetch;
}

/**
 * A directory's entries in name order with their lstat, in one call (on a
 * tree of small files a promise, or a Node call, per stat costs more than the
 * stat), or as the key's walk listed it. Listed again where the key's walk
 * kept only a fingerprint, it must be the same listing, or `agreement` learns
 * the directory changed.
 */
function listDirectory(dir: ContextEntry, kept: KeptListing | undefined, agreement: KeyAgreement | undefined, prefetch: ListingPrefetch): ListedEntry[] {
  if (kept && 'listing' in kept) return inNameOrder(dir, kept.listing.entries());
  const listing = prefetch.take(dir.abs) ?? readDirectoryListing(dir.abs);
  if (agreement && (!kept || listing.fingerprint() !== kept.fingerprint)) {
    if (kept) agreement.differs(dir.rel);
    else agreement.unchecked = true;
  }
  return inNameOrder(dir, listing.entries());
}

type Decide = (rel: string, isDir: boolean) => WalkDecision;

/** TreeReads with the prefetch every directory of one walk shares. */
type WalkReads = TreeReads & { prefetch: ListingPrefetch };

/** A directory listed, sorted and decided on, its small files' reads started: what walking it needs. */
interface PreparedDirectory {
  dir: ContextEntry;
  kept: KeptListing | undefined;
  keys: { key: string; entry: ListedEntry; decision: WalkDecision; below: boolean }[];
}

/**
 * Lists `dir`, sorts its entries into layer order, and starts reading its
 * small files ahead (reported to `reads`). For a directory without
 * subdirectories, `nearEnd` is called when the last of those reads starts.
 */
function prepareDirectory(dir: ContextEntry, decide: Decide, reads: WalkReads, nearEnd?: () => void): PreparedDirectory {
  const { learning, agreement, prefetch } = reads;
  const kept = reads.kept?.take(dir.abs);
  const keys: PreparedDirectory['keys'] = [];
  for (const entry of listDirectory(dir, kept, agreement, prefetch)) {
    const isDir = entry.stats.isDirectory();
    const decision = decide(entry.rel, isDir);
    if (decision === 'skip') continue;
    keys.push({ key: entry.name, entry, decision, below: false });
    if (isDir) keys.push({ key: `${entry.name}/`, entry, decision, below: true });
  }
  keys.sort((a, b) => compareLayerPaths(a.key, b.key));
  // The subdirectories this walk lists next, in that order, but those the key's walk kept a listing of.
  const subdirectories = keys.filter((k) => k.below);
  prefetch.expect(subdirectories.filter((k) => !reads.kept?.holdsListing(k.entry.abs)).map((k) => k.entry.abs));
  // The small files, in the order they come out, are read ahead for whoever writes them into a layer.
  const small: ListedEntry[] = [];
  for (const { entry, decision, below } of keys) {
    if (below || decision !== 'keep') continue;
    const { stats } = entry;
    if (stats.isFile() && stats.size <= SMALL_FILE_MAX) small.push(entry);
    // Streamed by the layer writer: no ctime after its read to compare.
    else if (agreement && stats.isFile()) agreement.unchecked = true;
  }
  // Before any read starts: a learned record's time may only be earlier than its read (see the racy window).
  const learn = learning && small.length > 0 ? learning.directory(dir.abs, Date.now(), small.length) : undefined;
  const ctimes = new Float64Array(small.length);
  const hashes = learn ? new Array<string>(small.length) : undefined;
  const watch: ReadWatcher = (index, content, ctimeMs, hash) => {
    ctimes[index] = ctimeMs;
    if (hashes) hashes[index] = hash!;
    if (!agreement) return;
    const entry = small[index]!;
    const witnessed = kept?.witnessed.get(entry.name);
    if (ctimeMs !== entry.stats.ctimeMs || (witnessed !== undefined && witnessed !== (hash ?? contentHash(content)))) agreement.differs(entry.rel);
  };
  const files = small.map((e): SmallFile => ({ name: e.name, size: e.stats.size }));
  const ahead = new FileReadAhead(dir.abs, files, watch, hashes !== undefined, subdirectories.length === 0 ? nearEnd : undefined);
  small.forEach((entry, index) => {
    entry.read = learn
      ? async () => {
        const content = await ahead.read(index);
        const hash = learn(entry.name, entry.stats, content, ctimes[index]!, hashes![index]!);
        if (hash !== undefined) entry.contentHash = hash;
        return content;
      }
      : () => ahead.read(index);
  });
  return { dir, kept, keys };
}

/**
 * Everything below a directory, symlinks not followed, in layer order: the
 * byte order of the whole paths, which is the order a layer lists them in,
 * so a caller can stream them into a layer without collecting and sorting.
 * (A directory's own entry and its subtree are not adjacent in that order:
 * `a` < `a.txt` < `a/b`.) `rel` paths are relative to `dir.rel`'s tree;
 * `decide` prunes. A directory that is only descended into comes out when
 * something below it does (as BuildKit copies the parents of what an
 * exception re-includes). Small files are read ahead;
 * what is read is reported to `reads`.
 */
export function* walkTree(dir: ContextEntry, decide: Decide = () => 'keep', reads: TreeReads = {}): Generator<ContextEntry> {
  const walkReads: WalkReads = { ...reads, prefetch: reads.prefetch ?? new ListingPrefetch() };
  yield* walkPrepared(prepareDirectory(dir, decide, walkReads), decide, walkReads);
}

function* walkPrepared(prepared: PreparedDirectory, decide: Decide, reads: WalkReads): Generator<ContextEntry> {
  const { keys, kept } = prepared;
  const { agreement } = reads;
  // The kept subdirectories in walk order. While one without subdirectories of its own is being
  // written, the next is prepared once its listing is in, so its first reads do not hold the walk up.
  const walked = keys.filter((k) => k.below && k.decision === 'keep').map((k) => k.entry);
  const early = new Map<number, PreparedDirectory>();
  const prepareWalked = (n: number): PreparedDirectory => prepareDirectory(walked[n]!, decide, reads, () => {
    const next = walked[n + 1];
    if (next && (reads.kept?.holdsListing(next.abs) || reads.prefetch.ready(next.abs))) early.set(n + 1, prepareWalked(n + 1));
  });
  let walkedSoFar = 0;
  // Subtrees of implied directories, started early to learn whether they yield anything.
  const started = new Map<string, { first: ContextEntry; rest: Generator<ContextEntry> }>();
  for (const { entry, decision, below } of keys) {
    if (!below) {
      if (decision === 'keep') {
        if (agreement && entry.stats.isSymbolicLink()) {
          entry.linkTarget = linkTarget(entry.abs);
          if (kept && kept.witnessed.get(entry.name) !== entry.linkTarget) agreement.differs(entry.rel);
        }
        yield entry;
        continue;
      }
      const rest = walkTree(entry, decide, reads);
      const first = rest.next();
      if (first.done) continue;
      started.set(entry.name, { first: first.value, rest });
      yield entry;
    } else if (decision === 'keep') {
      const current = early.get(walkedSoFar) ?? prepareWalked(walkedSoFar);
      early.delete(walkedSoFar++);
      yield* walkPrepared(current, decide, reads);
    } else {
      const subtree = started.get(entry.name);
      if (!subtree) continue;
      started.delete(entry.name);
      yield subtree.first;
      yield* subtree.rest;
    }
  }
}

/** A symlink's target, its bytes kept as byteNames.ts carries them. */
export function linkTarget(abs: string): string {
  return decodeName(readlinkSync(fsPath(abs), { encoding: 'buffer' }));
}
