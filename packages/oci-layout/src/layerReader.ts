import { posix } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { finished } from 'node:stream/promises';
import { extract as tarExtract, type Header } from 'tar-stream';
import { decompressStream } from './compression.js';
import type { EntryType, LayerChange, LayerEntry } from './layerEntry.js';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

/**
 * The root-relative form of a tar member name: no leading `./` or `/`, no
 * empty, `.` or trailing components, and `..` resolved lexically as if the
 * root were `/` (so `a/../../x` is `x`: names can never point above the root).
 * The root itself is ''.
 */
export function normaliseLayerPath(name: string): string {
  return posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

const TAR_TYPES: Partial<Record<Header['type'] & string, EntryType>> = {
  file: 'file',
  'contiguous-file': 'file',
  link: 'hardlink',
  symlink: 'symlink',
  'character-device': 'character-device',
  'block-device': 'block-device',
  directory: 'directory',
  fifo: 'fifo',
};

/**
 * Reads a layer blob (gzip, zstd or plain tar, told apart by magic bytes) as
 * changes. Each file entry's `content` must be consumed before the next
 * change is requested; content that was left alone is drained here.
 */
export async function* readLayer(blob: Readable): AsyncGenerator<LayerChange> {
  const extractor = tarExtract();
  const rawXattrs = captureRawPaxXattrs(extractor);
  // The first failure of the decompressor or parser explains the rest (e.g. an entry stream's "Stream was destroyed").
  let failure: unknown;
  extractor.on('error', (error: unknown) => (failure ??= error));
  pipeline(decompressStream(blob), extractor, (error) => (failure ??= error ?? undefined));
  const entries = extractor[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next;
      try {
        next = await entries.next();
      } catch (error) {
        throw layerError(failure ?? error);
      }
      if (next.done) return;
      const source = next.value;
      const change = toChange(source.header, rawXattrs.take());
      // The root entry (`./`) describes the rootfs directory itself, which the layer does not own.
      const isRoot = change.kind === 'entry' && change.entry.path === '';
      if (isRoot || change.kind !== 'entry' || change.entry.type !== 'file') {
        source.resume();
        if (!isRoot) yield change;
        continue;
      }
      const content = Readable.from(contentChunks(source as AsyncIterable<Buffer>, () => failure), { objectMode: false });
      change.entry.content = content;
      yield change;
      if (!content.readableEnded) {
        if (content.readableFlowing !== true) content.resume();
        try {
          await finished(content);
        } catch (error) {
          throw layerError(failure ?? error, `content of "${change.entry.path}" was not read to its end`);
        }
      }
    }
  } finally {
    await entries.return?.();
  }
}

async function* contentChunks(source: AsyncIterable<Buffer>, failure: () => unknown): AsyncGenerator<Buffer> {
  try {
    yield* source;
  } catch (error) {
    throw layerError(failure() ?? error);
  }
}

function toChange(header: Header, rawXattrs: Record<string, Buffer> | undefined): LayerChange {
  const path = normaliseLayerPath(header.name);
  const slash = path.lastIndexOf('/');
  const base = path.slice(slash + 1);
  const dir = path.slice(0, slash + 1).replace(/\/$/, '');
  if (base === OPAQUE_MARKER) return { kind: 'opaque', path: dir };
  if (base.startsWith(WHITEOUT_PREFIX)) {
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    if (hidden === '' || hidden === '.' || hidden === '..') {
      throw new LayerFormatError(`layer has an invalid whiteout "${header.name}": it names no file`);
    }
    return { kind: 'whiteout', path: dir === '' ? hidden : `${dir}/${hidden}` };
  }
  const type = TAR_TYPES[header.type ?? 'file'];
  if (!type) throw new LayerFormatError(`layer entry "${header.name}" has unsupported tar type "${header.type}"`);
  const entry: LayerEntry = {
    path,
    type,
    mode: (header.mode ?? 0) & 0o7777,
    uid: header.uid ?? 0,
    gid: header.gid ?? 0,
    mtime: paxMtime(header) ?? (header.mtime ? header.mtime.getTime() / 1000 : 0),
    size: type === 'file' ? (header.size ?? 0) : 0,
  };
  if (type === 'hardlink') entry.linkname = normaliseLayerPath(header.linkname ?? '');
  if (type === 'symlink') entry.linkname = header.linkname ?? '';
  if (type === 'character-device' || type === 'block-device') {
    entry.devmajor = header.devmajor ?? 0;
    entry.devminor = header.devminor ?? 0;
  }
  const xattrs = rawXattrs ?? textXattrs(paxRecords(header));
  if (Object.keys(xattrs).length > 0) entry.xattrs = xattrs;
  return { kind: 'entry', entry };
}

/** tar-stream sets `pax` on headers that had a PAX header; its typings omit it. */
function paxRecords(header: Header): Record<string, string> | undefined {
  return (header as { pax?: Record<string, string> | null }).pax ?? undefined;
}

function paxMtime(header: Header): number | undefined {
  const value = paxRecords(header)?.mtime;
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? seconds : undefined;
}

const XATTR_PREFIX = 'SCHILY.xattr.';

function textXattrs(pax: Record<string, string> | undefined): Record<string, Buffer> {
  const xattrs: Record<string, Buffer> = {};
  for (const [key, value] of Object.entries(pax ?? {})) {
    if (key.startsWith(XATTR_PREFIX)) xattrs[key.slice(XATTR_PREFIX.length)] = Buffer.from(value);
  }
  return xattrs;
}

/**
 * tar-stream decodes PAX values as UTF-8 text, which corrupts binary xattr
 * values (security.capability). This keeps the raw bytes of each entry's PAX
 * header so xattrs are parsed from them. It hooks tar-stream's (3.x) internal
 * `_decodeLongHeader`; without that hook the text values are used instead.
 */
function captureRawPaxXattrs(extractor: object): { take(): Record<string, Buffer> | undefined } {
  let pending: Record<string, Buffer> | undefined;
  const internals = extractor as { _decodeLongHeader?: (buf: Buffer) => void; _header?: { type?: string } };
  const original = internals._decodeLongHeader;
  if (typeof original === 'function') {
    internals._decodeLongHeader = function (this: typeof internals, buf: Buffer) {
      if (this._header?.type === 'pax-header') pending = parsePaxXattrs(buf);
      return original.call(this, buf);
    };
  }
  return {
    take() {
      const result = pending;
      pending = undefined;
      return result;
    },
  };
}

function parsePaxXattrs(buf: Buffer): Record<string, Buffer> {
  const xattrs: Record<string, Buffer> = {};
  let offset = 0;
  while (offset < buf.length) {
    const space = buf.indexOf(0x20, offset);
    const length = Number(buf.toString('ascii', offset, space));
    if (space < 0 || !Number.isInteger(length) || length <= 0 || offset + length > buf.length) {
      throw new LayerFormatError('layer has a corrupt PAX header');
    }
    const record = buf.subarray(space + 1, offset + length - 1);
    const equals = record.indexOf(0x3d);
    const key = record.toString('utf8', 0, equals);
    if (equals > 0 && key.startsWith(XATTR_PREFIX)) xattrs[key.slice(XATTR_PREFIX.length)] = Buffer.from(record.subarray(equals + 1));
    offset += length;
  }
  return xattrs;
}

/** A layer blob that is not a readable tar: truncated, corrupt, or with entries that make no sense. */
export class LayerFormatError extends Error {}

function layerError(error: unknown, context?: string): Error {
  if (error instanceof LayerFormatError) {
    return context ? new LayerFormatError(`${context}: ${error.message}`, { cause: error.cause }) : error;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string } | undefined)?.code;
  let text: string;
  if (message === 'Unexpected end of data' || code === 'Z_BUF_ERROR' || /unexpected end|ended in middle/i.test(message)) {
    text = `layer is truncated (${message})`;
  } else if (/Invalid tar header/.test(message)) {
    text = 'not a tar archive (or a corrupt one): a tar header failed its checksum';
  } else if (code === 'Z_DATA_ERROR') {
    text = `layer is corrupt: gzip data error (${message})`;
  } else {
    text = `cannot read layer: ${message}`;
  }
  return new LayerFormatError(context ? `${context}: ${text}` : text, { cause: error });
}
