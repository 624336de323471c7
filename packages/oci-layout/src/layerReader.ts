import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { awaitedElsewhere } from './awaitedElsewhere.js';
import { decompressStream } from './compression.js';
import type { EntryType, LayerChange, LayerEntry } from './layerEntry.js';
import { TarFormatError } from './tarHeader.js';
import { TarParser, type TarMember, type TarVisitor } from './tarParser.js';
import { whiteoutOfMemberName } from './whiteoutNames.js';

/**
 * The root-relative form of a tar member name: no leading `./` or `/`, no
 * empty, `.` or trailing components, and `..` resolved lexically as if the
 * root were `/` (so `a/../../x` is `x`: names can never point above the root).
 * The root itself is ''.
 */
export function normaliseLayerPath(name: string): string {
  // Most names are plain once a leading `./` (GNU tar) or a trailing `/` (directories) is cut off.
  const start = name.startsWith('./') ? 2 : 0;
  let end = name.length;
  while (end > start && name.charCodeAt(end - 1) === SLASH) end--;
  const trimmed = start > 0 || end < name.length ? name.slice(start, end) : name;
  if (isPlainPath(trimmed)) return trimmed;
  return posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

const SLASH = 0x2f;
const DOT = 0x2e;

/** Whether the name is already normal: not empty, no leading, trailing or doubled `/`, no `.` or `..` component. */
function isPlainPath(name: string): boolean {
  if (name.length === 0 || name.charCodeAt(name.length - 1) === SLASH) return false;
  let componentStart = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i < name.length && name.charCodeAt(i) !== SLASH) continue;
    const length = i - componentStart;
    if (length === 0) return false;
    if (name.charCodeAt(componentStart) === DOT && (length === 1 || (length === 2 && name.charCodeAt(componentStart + 1) === DOT))) return false;
    componentStart = i + 1;
  }
  return true;
}

const TAR_TYPES: Readonly<Record<string, EntryType>> = {
  '0': 'file',
  '7': 'file',
  S: 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'character-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
};

/**
 * A change of the layer. The root entry `./`, which describes the rootfs
 * itself and belongs to no layer, gives none; nor does a global PAX header,
 * which describes the archive.
 */
function toChange(member: TarMember): LayerChange | undefined {
  if (member.typeflag === 'g') return undefined;
  const path = normaliseLayerPath(member.name);
  if (path === '') return undefined;
  const whiteout = whiteoutOfMemberName(path);
  if (whiteout === 'names-nothing') throw new LayerFormatError(`layer has an invalid whiteout "${member.name}": it names no file`);
  if (whiteout) return whiteout;
  const type = TAR_TYPES[member.typeflag];
  if (!type) throw new LayerFormatError(`layer entry "${member.name}" has unsupported tar type "${member.typeflag}"`);
  const entry: LayerEntry = {
    path,
    type,
    mode: member.mode & 0o7777,
    uid: member.uid,
    gid: member.gid,
    mtime: member.mtime,
    size: type === 'file' ? member.size : 0,
  };
  if (member.sparse) entry.sparse = member.sparse;
  if (type === 'hardlink') entry.linkname = normaliseLayerPath(member.linkname);
  if (type === 'symlink') entry.linkname = member.linkname;
  if (type === 'character-device' || type === 'block-device') {
    entry.devmajor = member.devmajor;
    entry.devminor = member.devminor;
  }
  if (member.xattrs && Object.keys(member.xattrs).length > 0) entry.xattrs = member.xattrs;
  return { kind: 'entry', entry };
}

/** Receives a layer's changes, in order, as `scanLayer` reads them. */
export interface LayerVisitor {
  /** A change; for a file entry (whose `content` is not set) its bytes follow through `content`, then `contentEnd`. */
  change(change: LayerChange): void;
  /** The next bytes of the current file: a view of the decompressed layer, not to be written to. */
  content(piece: Buffer): void;
  contentEnd(): void;
}

/**
 * Layer changes from tar members: only a regular file's bytes are passed on.
 * A class, not an object of closures: its methods stay the same functions
 * from layer to layer, so the parser's optimised calls to them stay valid.
 */
class MemberChanges implements TarVisitor {
  private inFile = false;

  constructor(private readonly visitor: LayerVisitor) {}

  member(member: TarMember): void {
    const change = toChange(member);
    if (!change) return;
    this.inFile = change.kind === 'entry' && change.entry.type === 'file';
    this.visitor.change(change);
  }

  content(piece: Buffer): void {
    if (this.inFile) this.visitor.content(piece);
  }

  memberEnd(): void {
    if (!this.inFile) return;
    this.inFile = false;
    this.visitor.contentEnd();
  }
}

/** Layer bytes as decompressed chunks, with read failures (decompressor, input, tar) explained as LayerFormatError. */
class LayerSource {
  private readonly chunks: AsyncIterator<Buffer>;
  private readonly parser: TarParser;
  private ahead: Promise<IteratorResult<Buffer>> | undefined;

  constructor(blob: Readable, visitor: LayerVisitor) {
    this.chunks = decompressStream(blob)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.parser = new TarParser(new MemberChanges(visitor));
  }

  /**
   * Parses the next decompressed chunk, calling the visitor; false once the
   * layer has been read to its end (after the tar's end, the rest is still
   * read, so a verifying input sees every byte).
   */
  async step(): Promise<boolean> {
    let next: IteratorResult<Buffer>;
    try {
      next = await (this.ahead ?? this.chunks.next());
    } catch (error) {
      throw layerError(error);
    } finally {
      this.ahead = undefined;
    }
    // Asking for the next chunk before parsing this one keeps the decompressor (on another thread) busy meanwhile.
    // Its error (a corrupt or cut-off layer) surfaces when the next read awaits it.
    if (!next.done) this.ahead = awaitedElsewhere(this.chunks.next());
    try {
      if (next.done) this.parser.end();
      else this.parser.write(next.value);
    } catch (error) {
      throw error instanceof TarFormatError ? layerError(error) : error;
    }
    return !next.done;
  }

  /** Stops reading and releases the input. */
  async close(): Promise<void> {
    await this.chunks.return?.();
  }
}

/**
 * Reads a layer blob (gzip, zstd or plain tar, told apart by magic bytes),
 * handing each change and each file's bytes to `visitor` as they are parsed:
 * no stream or promise per entry, for callers that look at every file.
 * Errors the visitor throws pass through; the layer's own are LayerFormatError.
 */
export async function scanLayer(blob: Readable, visitor: LayerVisitor): Promise<void> {
  const source = new LayerSource(blob, visitor);
  try {
    while (await source.step());
  } finally {
    await source.close();
  }
}

/** One file's content as a stream: the reader pushes its bytes as the tar yields them, and reads on when it is asked for more. */
class EntryContent extends Readable {
  /** Every byte has been pushed. */
  complete = false;
  pushes = 0;

  constructor(private readonly reader: PullingReader) {
    super();
    // Node reads ahead into a stream before anyone consumes it, so the layer's error can arrive while nobody
    // listens. Unheard, it would be thrown at the process; the same error also rejects the next change the
    // caller asks for, so nothing is lost by hearing it here.
    this.on('error', () => {});
  }

  override _read(): void {
    if (!this.complete) void this.reader.readFor(this);
  }

  add(piece: Buffer): void {
    this.pushes++;
    this.push(piece);
  }

  finish(): void {
    this.complete = true;
    this.push(null);
  }
}

/** A small file's content, collected as the tar yields it, for `read()`: no stream per file. */
class WholeContent {
  complete = false;
  private readonly pieces: Buffer[] = [];
  private error: Error | undefined;

  constructor(private readonly reader: PullingReader) {}

  add(piece: Buffer): void {
    this.pieces.push(piece);
  }

  finish(): void {
    this.complete = true;
  }

  destroy(error?: Error): void {
    this.error ??= error;
  }

  /** Reads on until the file is complete (the layer's error, if reading fails). */
  async read(): Promise<Buffer> {
    while (!this.complete && this.error === undefined && (await this.reader.step()));
    if (this.error) throw this.error;
    return this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces);
  }
}

/** `readLayer`'s machinery: reads chunks only when the caller wants the next change or more of a file's bytes. */
class PullingReader implements LayerVisitor {
  /** Parsed, not yet taken: each change with its file's content. */
  readonly changes: { change: LayerChange; content?: EntryContent | WholeContent }[] = [];
  private readonly source: LayerSource;
  private current: EntryContent | WholeContent | undefined;
  private reading: Promise<boolean> | undefined;

  constructor(
    blob: Readable,
    private readonly wholeUpTo: number,
  ) {
    this.source = new LayerSource(blob, this);
  }

  change(change: LayerChange): void {
    if (change.kind === 'entry' && change.entry.type === 'file') {
      const { entry } = change;
      if (entry.size <= this.wholeUpTo && !entry.sparse) {
        const whole = (this.current = new WholeContent(this));
        entry.read = () => whole.read();
      } else {
        entry.content = this.current = new EntryContent(this);
      }
      this.changes.push({ change, content: this.current });
    } else {
      this.changes.push({ change });
    }
  }

  content(piece: Buffer): void {
    this.current!.add(piece);
  }

  contentEnd(): void {
    this.current!.finish();
    this.current = undefined;
  }

  /** Parses the next chunk (one read at a time, whoever asks); false at the layer's end. */
  step(): Promise<boolean> {
    this.reading ??= this.source.step().then(
      (more) => {
        this.reading = undefined;
        return more;
      },
      (error: unknown) => {
        this.reading = undefined;
        this.current?.destroy(error as Error);
        throw error;
      },
    );
    return this.reading;
  }

  /** Reads until `content` has new bytes or is complete; a failure reaches the consumer through the stream. */
  async readFor(content: EntryContent): Promise<void> {
    const pushes = content.pushes;
    try {
      while (!content.complete && content.pushes === pushes && (await this.step()));
    } catch (error) {
      // The consumer reads the layer's error from the stream (step() has already destroyed it with the same error).
      content.destroy(error as Error);
    }
  }

  /** Reads past whatever of `content` its consumer left unread. */
  async skip(content: EntryContent | WholeContent): Promise<void> {
    if (content.complete) return;
    if (content instanceof EntryContent) content.resume();
    while (!content.complete && (await this.step()));
  }

  close(): Promise<void> {
    this.current?.destroy();
    return this.source.close();
  }
}

export interface ReadLayerOptions {
  /**
   * A file of at most this many bytes (not sparse) comes with `read` (its
   * whole content, collected as it is parsed) instead of a `content` stream:
   * for a tree of many small files a stream per file costs more than its bytes.
   */
  wholeFilesUpTo?: number;
}

/**
 * Reads a layer blob (gzip, zstd or plain tar, told apart by magic bytes) as
 * changes. Each file entry's `content` (or `read`) must be consumed before
 * the next change is requested; content that was left alone is skipped here.
 */
export async function* readLayer(blob: Readable, opts: ReadLayerOptions = {}): AsyncGenerator<LayerChange> {
  const reader = new PullingReader(blob, opts.wholeFilesUpTo ?? -1);
  try {
    for (;;) {
      const next = reader.changes.shift();
      if (!next) {
        if (await reader.step()) continue;
        return;
      }
      yield next.change;
      if (next.content) await reader.skip(next.content);
    }
  } finally {
    await reader.close();
  }
}

/** A layer blob that is not a readable tar: truncated, corrupt, or with entries that make no sense. */
export class LayerFormatError extends Error {}

function layerError(error: unknown): Error {
  if (error instanceof LayerFormatError) return error;
  if (error instanceof TarFormatError) {
    switch (error.reason) {
      case 'checksum':
        return new LayerFormatError('not a tar archive (or a corrupt one): a tar header failed its checksum', { cause: error });
      case 'truncated':
        return new LayerFormatError(`layer is truncated (${error.message})`, { cause: error });
      case 'corrupt':
      case 'too-large':
        return new LayerFormatError(`layer is corrupt: ${error.message}`, { cause: error });
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string } | undefined)?.code;
  let text: string;
  if (code === 'Z_BUF_ERROR' || /unexpected end|ended in (the )?middle/i.test(message)) {
    text = `layer is truncated (${message})`;
  } else if (code === 'Z_DATA_ERROR') {
    text = `layer is corrupt: gzip data error (${message})`;
  } else {
    text = `cannot read layer: ${message}`;
  }
  return new LayerFormatError(text, { cause: error });
}
