import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';
import { awaitedElsewhere, readdirIfExists, statIfExists, withNoSpacePath } from '@tsbuild/oci-layout';
import type { SourceVisitor } from '../context/buildContext.js';
import { compareWalkOrder } from '../context/sourcesDigest.js';

/**
 * Lines gathered before they are compressed into one gzip member. The text
 * gathered is a chain of small strings until then, which survives (and is
 * copied by) every young-generation GC on the way: at 1 MiB a walk of 200,000
 * files spent three times as long in them as at 64 KiB, and 25 MB more RSS.
 */
const MEMBER_TEXT = 64 * 1024;

const gzipMember = promisify(gzip);

/**
 * A listing recorded while the sources are hashed (give `visit` to
 * BuildContext.hashSources), kept compressed, a gzip member per 64 KiB of lines
 * (gunzip reads the members as one stream): a miss then writes it without
 * walking the sources a second time, and a listing of a million paths is a
 * few MiB in memory, not its lines.
 */
export class RecordedListing {
  private text = '';
  /** Compressed on the thread pool: the walk that records the listing goes on meanwhile. */
  private readonly members: Promise<Buffer>[] = [];

  readonly visit: SourceVisitor = (source, rel, mode, content) => {
    this.text += `${source}\t${mode.toString(8)}:${shortHash(mode, content)}\t${JSON.stringify(rel)}\n`;
    if (this.text.length >= MEMBER_TEXT) this.seal();
  };

  /** The listing as gzip members, in order. */
  compressed(): Promise<Buffer[]> {
    // No paths is still a gzip file.
    if (this.text.length > 0 || this.members.length === 0) this.seal();
    return Promise.all(this.members);
  }

  private seal(): void {
    // A listing nobody asks for (its step hit) is dropped with its members unawaited.
    this.members.push(awaitedElsewhere(gzipMember(this.text, { level: 1 })));
    this.text = '';
  }
}

/** What changed between two listings: the first few paths, in walk order, and how many in all. */
export interface ListingChange {
  paths: string[];
  count: number;
}

const FIRST_PATHS = 5;

/**
 * Per-path listings of context sources, one gzip file per sources hash
 * (`<cache>/step-sources/<digest>.gz`), so that a miss can name the paths
 * that changed. A line is `SOURCE\tMODE:HASH\t"PATH"`: the source's index,
 * the mode and 64 bits of the content hash, the JSON-quoted path. Written and
 * compared as streams: a listing of a million paths is never in memory.
 */
export class SourceListings {
  readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = join(cacheDir, 'step-sources');
  }

  path(digest: string): string {
    return join(this.dir, `${digest}.gz`);
  }

  /** The sources hashes that have a listing. */
  async digests(): Promise<string[]> {
    return (await readdirIfExists(this.dir)).filter((n) => n.endsWith('.gz') && !n.startsWith('.')).map((n) => n.slice(0, -'.gz'.length));
  }

  async remove(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  async has(digest: string): Promise<boolean> {
    return (await statIfExists(this.path(digest))) !== undefined;
  }

  /** Writes the listing of a sources hash, unless one exists (same hash, same paths). */
  async ensure(digest: string, listing: RecordedListing): Promise<void> {
    if (await this.has(digest)) return;
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.${digest}.${randomBytes(4).toString('hex')}`);
    try {
      await writeFile(tmp, await listing.compressed());
      await rename(tmp, this.path(digest));
    } catch (e) {
      throw withNoSpacePath(e, tmp);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /**
   * The paths added, removed or changed from listing `before` to listing
   * `after`, by a merge of the two streams; undefined if one is damaged.
   */
  async compare(before: string, after: string): Promise<ListingChange | undefined> {
    const a = lines(this.path(before))[Symbol.asyncIterator]();
    const b = lines(this.path(after))[Symbol.asyncIterator]();
    const change: ListingChange = { paths: [], count: 0 };
    const note = (entry: ListingEntry) => {
      if (change.paths.length < FIRST_PATHS) change.paths.push(entry.rel);
      change.count++;
    };
    try {
      let x = await next(a);
      let y = await next(b);
      while (x || y) {
        const order = !x ? 1 : !y ? -1 : compareEntries(x, y);
        if (order < 0) {
          note(x!);
          x = await next(a);
        } else if (order > 0) {
          note(y!);
          y = await next(b);
        } else {
          if (x!.hash !== y!.hash) note(y!);
          x = await next(a);
          y = await next(b);
        }
      }
      return change;
    } catch (e) {
      // Bad gzip data or a line that is not ours: the explanation loses its paths, the build goes on.
      const code = (e as NodeJS.ErrnoException).code;
      if (e instanceof SyntaxError || code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') return undefined;
      throw e;
    } finally {
      await a.return?.();
      await b.return?.();
    }
  }
}

/** A file's content hash is already hex; a link's target can be long, so it is hashed. */
function shortHash(mode: number, content: string): string {
  const isLink = (mode & 0o170000) === 0o120000;
  return (isLink ? createHash('sha256').update(content).digest('hex') : content).slice(0, 16);
}

interface ListingEntry {
  source: number;
  hash: string;
  rel: string;
}

function lines(path: string): AsyncIterable<string> {
  const gunzip = createGunzip();
  // pipe() does not pass on a read error; through the gunzip stream it reaches the reader.
  return createInterface({ input: createReadStream(path).on('error', (e) => gunzip.destroy(e)).pipe(gunzip), crlfDelay: Infinity });
}

async function next(it: AsyncIterator<string>): Promise<ListingEntry | undefined> {
  const r = await it.next();
  if (r.done) return undefined;
  const line = r.value;
  const tab1 = line.indexOf('\t');
  const tab2 = line.indexOf('\t', tab1 + 1);
  return { source: Number(line.slice(0, tab1)), hash: line.slice(tab1 + 1, tab2), rel: JSON.parse(line.slice(tab2 + 1)) as string };
}

/** The walk's order: by source, then as compareWalkOrder orders paths. */
function compareEntries(a: ListingEntry, b: ListingEntry): number {
  return a.source !== b.source ? a.source - b.source : compareWalkOrder(a.rel, b.rel);
}
