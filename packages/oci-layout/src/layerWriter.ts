import { Readable, pipeline } from 'node:stream';
import { awaitedElsewhere } from './awaitedElsewhere.js';
import { DigestingStream, type Digest } from './digest.js';
import { compressStream } from './compression.js';
import type { Compression } from './mediaTypes.js';
import { encodeName } from './byteNames.js';
import type { LayerChange, LayerEntry, SparseRegion } from './layerEntry.js';
import { normaliseLayerPath } from './layerReader.js';
import { TAR_BLOCK as BLOCK } from './tarHeader.js';
import { EMPTY_FILE, paxRecord, TAR_TYPEFLAG, writeHeader, type TarHeader } from './tarHeaderWriter.js';
import { FAILURE_EXIT_CODE, ToolError } from './toolError.js';
import { memberNameOf, whiteoutMemberName } from './whiteoutNames.js';
import { TarChunks } from './tarChunks.js';
import { BlockCuts } from './blockCuts.js';
import { ParallelGzip, type GzipMember, type GzipMemberSource } from './parallelGzip.js';

/**
 * Canonical order of entries in a layer: byte order of the UTF-8 path, so a
 * directory comes before everything below it. Callers sort with this; the
 * writer keeps the order it is given.
 */
export function compareLayerPaths(a: string, b: string): number {
  // UTF-16 order agrees with UTF-8 byte order everywhere but at surrogates and
  // U+E000..U+FFFF: only those take the encoding way (sorting a million paths).
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    return x >= 0xd800 || y >= 0xd800 ? Buffer.compare(Buffer.from(a), Buffer.from(b)) : x - y;
  }
  // One is a prefix of the other; only a surrogate cut in two encodes as another prefix.
  const last = n > 0 ? a.charCodeAt(n - 1) : 0;
  return last >= 0xd800 && last < 0xe000 ? Buffer.compare(Buffer.from(a), Buffer.from(b)) : a.length - b.length;
}

/** Canonical order of a layer's changes: by the member names they are written as (whiteouts by `.wh.NAME`). */
export function compareLayerChanges(a: LayerChange, b: LayerChange): number {
  return compareLayerPaths(memberNameOf(a), memberNameOf(b));
}

export interface CreatedLayer {
  /** The (compressed) blob; the caller hashes it while storing it. */
  stream: Readable;
  /** diff_id: digest of the uncompressed tar, settled once `stream` has been read to the end. */
  diffId: Promise<Digest>;
  /** The gzip members written, once `stream` has ended: listed only when the layer was given a member source. */
  members(): readonly GzipMember[];
}

/**
 * Writes a layer in one streaming pass: tar -> diff_id hash -> compressor.
 * Output is reproducible: headers carry only what the changes say (no user or
 * group names, no host time), so equal changes give equal bytes. `reuse`
 * offers gzip members compressed before (see ParallelGzip).
 */
export function createLayer(
  changes: AsyncIterable<LayerChange> | Iterable<LayerChange>,
  opts: { compression: Compression; reuse?: GzipMemberSource },
): CreatedLayer {
  const cuts = opts.compression === 'gzip' ? new BlockCuts() : undefined;
  const tar = tarStream(changes, cuts);
  const digester = new DigestingStream();
  const compressor = compressStream(opts.compression, { reuse: opts.reuse, cuts });
  const diffId = new Promise<Digest>((resolve, reject) => {
    digester.on('finish', () => resolve(digester.digest));
    pipeline(tar, digester, compressor, (error) => {
      if (error) reject(error);
    });
  });
  // The caller may only care about the stream's own error, which is the same one.
  return {
    stream: compressor as unknown as Readable,
    diffId: awaitedElsewhere(diffId),
    members: () => (compressor instanceof ParallelGzip ? compressor.members : []),
  };
}

/** The changes as a plain tar stream, in the order given (for archives that are not layers, no hashing, no compression); `cuts` learns where gzip blocks end. */
export function tarStream(changes: AsyncIterable<LayerChange> | Iterable<LayerChange>, cuts?: BlockCuts): Readable {
  return Readable.from(tarBlocks(changes, cuts), { objectMode: false });
}

const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

/** Read-ahead for files only streams can read: their contents load while earlier entries are written. */
const PREFETCH_ENTRIES = 64;
const PREFETCH_BYTES = 16 * 1024 * 1024;
/** Files up to this size are read whole (read-ahead, or `read`); larger ones are streamed. */
const WHOLE_FILE_MAX = 1024 * 1024;

interface Prefetched {
  change: LayerChange;
  body?: Promise<Buffer>;
}

async function readWhole(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Passes the changes through, starting to read the next small files that
 * only `open` can read before they are due: a tree of many small files is
 * bound by file-open latency, not bytes, and this overlaps those waits.
 * Entries with `read` are read when written (it is synchronous for context files).
 * `next` answers at once for a plain iterable: a promise per entry of a walk
 * of many small files is a microtask turn for nothing.
 */
class ReadAhead {
  private readonly isAsync: boolean;
  private readonly source: AsyncIterator<LayerChange> | Iterator<LayerChange>;
  private readonly queue: Prefetched[] = [];
  private head = 0;
  private queuedBytes = 0;
  private done = false;

  constructor(changes: AsyncIterable<LayerChange> | Iterable<LayerChange>) {
    this.isAsync = Symbol.asyncIterator in changes;
    this.source = this.isAsync ? (changes as AsyncIterable<LayerChange>)[Symbol.asyncIterator]() : (changes as Iterable<LayerChange>)[Symbol.iterator]();
  }

  /** The next change (with its body when it is being read ahead), undefined after the last. */
  next(): Prefetched | undefined | Promise<Prefetched | undefined> {
    if (this.isAsync) return this.fillAsync().then(() => this.shift());
    while (this.wantsMore()) {
      const next = (this.source as Iterator<LayerChange>).next();
      if (next.done) this.done = true;
      else this.push(next.value);
    }
    return this.shift();
  }

  private async fillAsync(): Promise<void> {
    while (this.wantsMore()) {
      const next = await this.source.next();
      if (next.done) this.done = true;
      else this.push(next.value);
    }
  }

  private wantsMore(): boolean {
    return !this.done && this.queue.length - this.head < PREFETCH_ENTRIES && this.queuedBytes < PREFETCH_BYTES;
  }

  private push(change: LayerChange): void {
    const entry = change.kind === 'entry' ? change.entry : undefined;
    if (entry?.type === 'file' && entry.open && !entry.read && !entry.content && entry.size <= WHOLE_FILE_MAX) {
      const { open } = entry;
      // Errors surface when the entry is written.
      const body = awaitedElsewhere(Promise.resolve().then(async () => readWhole(await open())));
      this.queue.push({ change, body });
      this.queuedBytes += entry.size;
    } else {
      this.queue.push({ change });
    }
  }

  private shift(): Prefetched | undefined {
    if (this.head === this.queue.length) return undefined;
    const item = this.queue[this.head++]!;
    // Trimmed now and then, not shifted per entry.
    if (this.head >= PREFETCH_ENTRIES) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (item.body && item.change.kind === 'entry') this.queuedBytes -= item.change.entry.size;
    return item;
  }
}

async function* tarBlocks(changes: AsyncIterable<LayerChange> | Iterable<LayerChange>, cuts?: BlockCuts): AsyncGenerator<Buffer> {
  const out = new TarChunks();
  const ahead = new ReadAhead(changes);
  while (true) {
    const next = ahead.next();
    const item = next instanceof Promise ? await next : next;
    if (!item) break;
    const { change, body } = item;
    const start = out.offset;
    if (change.kind === 'entry') {
      const { entry } = change;
      const dataBytes = writeEntryHeader(entry, out);
      cuts?.data(out.offset, dataBytes);
      if (entry.type === 'file') {
        const data = body ? await body : entry.size <= WHOLE_FILE_MAX ? entry.read?.() : undefined;
        if (data) {
          writeData(entry, data instanceof Promise ? await data : data, dataBytes, out);
        } else {
          yield* out.take(true);
          yield* streamedData(entry, dataBytes, out);
        }
      }
    } else {
      const path = normaliseLayerPath(change.path);
      if (change.kind === 'whiteout' && path === '') throw new Error('cannot write a whiteout for the root directory');
      writeHeader({ ...EMPTY_FILE, name: whiteoutMemberName({ kind: change.kind, path }) }, out);
    }
    // A block that ends where a chunk does goes to the compressor without a copy.
    if (cuts?.entryEnd(out.offset, change.kind === 'entry' ? change.entry.path : change.path, out.offset - start)) out.endChunk();
    // Most entries fill no chunk: no generator for them.
    if (out.hasChunks(false)) yield* out.take(false);
  }
  out.append(END_OF_ARCHIVE);
  yield* out.take(true);
}


/** The regions, checked: whole numbers, in order, not overlapping, inside the file. Their total length. */
function sparseDataBytes(entry: LayerEntry, regions: SparseRegion[]): number {
  let end = 0;
  let total = 0;
  for (const { offset, length } of regions) {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < end || length < 0 || offset + length > entry.size) {
      throw new Error(`layer entry "${entry.path}" has sparse regions that overlap, are out of order or lie outside its size ${entry.size}`);
    }
    end = offset + length;
    total += length;
  }
  return total;
}

/**
 * A sparse file is written as GNU's PAX sparse format 1.0 (what GNU tar,
 * Go, libarchive and tsbuild's reader read): the member is named
 * `DIR/GNUSparseFile.0/NAME` (so a reader that knows no sparse files sees an
 * odd name, not a wrong file), the records carry the real name and size, and
 * its data starts with the map, padded to a block.
 */
function sparseLayout(entry: LayerEntry, header: TarHeader, regions: SparseRegion[]): { map: Buffer; dataBytes: number } {
  const dataBytes = sparseDataBytes(entry, regions);
  // GNU tar takes the file's end from the map: a file that ends in a hole ends with an empty region there.
  const last = regions[regions.length - 1];
  const map = last && last.offset + last.length === entry.size ? regions : [...regions, { offset: entry.size, length: 0 }];
  const lines = [String(map.length), ...map.flatMap((r) => [String(r.offset), String(r.length)])];
  const mapText = Buffer.from(`${lines.join('\n')}\n`);
  const slash = header.name.lastIndexOf('/');
  header.records = [
    paxRecord('GNU.sparse.major', Buffer.from('1')),
    paxRecord('GNU.sparse.minor', Buffer.from('0')),
    paxRecord('GNU.sparse.name', encodeName(header.name)),
    paxRecord('GNU.sparse.realsize', Buffer.from(String(entry.size))),
  ];
  header.name = `${header.name.slice(0, slash + 1)}GNUSparseFile.0/${header.name.slice(slash + 1)}`;
  header.size = mapText.length + ((BLOCK - (mapText.length % BLOCK)) % BLOCK) + dataBytes;
  return { map: mapText, dataBytes };
}

const NO_XATTRS: Readonly<Record<string, Buffer>> = Object.freeze({});

/** Writes an entry's header (and a sparse file's map); returns how many bytes of data follow. */
function writeEntryHeader(entry: LayerEntry, out: TarChunks): number {
  const path = normaliseLayerPath(entry.path);
  if (path === '') throw new Error(`layer entry "${entry.path}" names the root directory`);
  const isFile = entry.type === 'file';
  const header: TarHeader = {
    name: entry.type === 'directory' ? `${path}/` : path,
    typeflag: TAR_TYPEFLAG[entry.type],
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    size: isFile ? entry.size : 0,
    mtime: entry.mtime,
    linkname:
      entry.type === 'hardlink'
        ? normaliseLayerPath(entry.linkname ?? '')
        : entry.type === 'symlink'
          ? (entry.linkname ?? '')
          : '',
    devmajor: entry.devmajor ?? 0,
    devminor: entry.devminor ?? 0,
    xattrs: entry.xattrs ?? NO_XATTRS,
  };
  if ((entry.type === 'hardlink' || entry.type === 'symlink') && header.linkname === '') {
    throw new Error(`layer entry "${entry.path}" is a ${entry.type} without a target`);
  }
  const sparse = isFile && entry.sparse ? sparseLayout(entry, header, entry.sparse) : undefined;
  writeHeader(header, out);
  if (!isFile) return 0;
  if (!sparse) return entry.size;
  out.append(sparse.map);
  out.pad(sparse.map.length);
  return sparse.dataBytes;
}

/**
 * A source that changed while it was written into a layer (`subject` names it, `detail` says how it
 * showed): here, a file whose content is not the size its entry (a stat taken earlier) says. The
 * layer is refused, never written with a header that lies.
 */
export class LayerContentError extends ToolError<'content-changed'> {
  constructor(readonly subject: string, detail: string) {
    super('content-changed', `${subject} changed while it was written into the layer: ${detail} (run it again)`, FAILURE_EXIT_CODE);
  }
}

function sizeChanged(entry: LayerEntry, read: string, listed: number): LayerContentError {
  return new LayerContentError(`"${entry.path}"`, `${read} bytes read where ${listed} were listed`);
}

function writeData(entry: LayerEntry, data: Buffer, dataBytes: number, out: TarChunks): void {
  if (data.length !== dataBytes) throw sizeChanged(entry, String(data.length), dataBytes);
  out.append(data);
  out.pad(data.length);
}

async function* streamedData(entry: LayerEntry, dataBytes: number, out: TarChunks): AsyncGenerator<Buffer> {
  const content = entry.content ?? (entry.open ? await entry.open() : undefined);
  if (!content) {
    if (dataBytes === 0) return;
    throw new Error(`layer entry "${entry.path}" has ${dataBytes} bytes of data but no content`);
  }
  let written = 0;
  for await (const chunk of content as AsyncIterable<Buffer>) {
    written += chunk.length;
    if (written > dataBytes) {
      content.destroy();
      throw sizeChanged(entry, `more than ${dataBytes}`, dataBytes);
    }
    out.streamed(chunk.length);
    yield chunk;
  }
  if (written !== dataBytes) throw sizeChanged(entry, String(written), dataBytes);
  out.pad(written);
}
