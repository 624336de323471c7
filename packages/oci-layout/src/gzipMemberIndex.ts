import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { checksummedLinesText, encodeChecksummedLine, parseChecksummedLine } from './checksummedLines.js';
import { InvalidDigestError, parseDigest, type Digest } from './digest.js';
import { openIfExists, readTextIfExists } from './ifExists.js';
import type { OciLayout } from './ociLayout.js';
import type { BlockDigest } from './poolSha256.js';
import { GZIP_MEMBER_FORMAT, type GzipMember, type GzipMemberSource } from './parallelGzip.js';

const HEADER = 'tsbuild-gzip-members-v1';
/**
 * Layers the file may list before it is rewritten with the newest KEEP_LAYERS of them whose blobs
 * remain. A layer of a million small files has ~1,500 members, and the file is read whole into a
 * map of them (about 10 MB of heap at 16 such layers); a rebuild wants the members of the layer
 * its step built last, among the newest.
 */
const MAX_LAYERS = 16;
const KEEP_LAYERS = 8;
/** A layer of a single member (up to one block) is cheap to compress again: not worth a line. */
const MIN_MEMBERS = 2;
/** gzip header (10 bytes) and trailer (CRC-32, size: 8 bytes) around an empty deflate stream. */
const MIN_MEMBER_BYTES = 18;
/** Above any member of a block ParallelGzip cuts (8 MiB at most, stored blocks add 5 bytes per 64 KiB): a length beyond is a damaged line. */
const MAX_MEMBER_BYTES = 16 * 1024 * 1024;

interface MemberPlace {
  blob: Digest;
  offset: number;
  length: number;
}

/** A layer's line, as kept for a rewrite: its members are in the places. */
interface LayerLine {
  blob: Digest;
  text: string;
}

interface Loaded {
  places: Map<string, MemberPlace>;
  layers: LayerLine[];
  /** The file must be rewritten before anything is appended: missing, torn, or of another format. */
  rewrite: boolean;
}

function isMember(value: unknown): value is [string, number] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && /^[0-9a-f]{64}$/.test(value[0])
    && Number.isSafeInteger(value[1]) && (value[1] as number) >= MIN_MEMBER_BYTES && (value[1] as number) <= MAX_MEMBER_BYTES;
}

/** A line's blob and members, or undefined for one that is not a layer's. */
function layerOf(value: unknown[]): { blob: Digest; members: [string, number][] } | undefined {
  const [blob, members] = value;
  if (value.length !== 2 || !Array.isArray(members) || !members.every(isMember)) return undefined;
  try {
    return { blob: parseDigest(blob), members };
  } catch (err) {
    if (err instanceof InvalidDigestError) return undefined;
    throw err;
  }
}

/** Whether `member` is a gzip member whose trailer names exactly `block` (its CRC-32 and size). */
function holdsBlock(member: Buffer, block: BlockDigest): boolean {
  return member.length >= MIN_MEMBER_BYTES && member[0] === 0x1f && member[1] === 0x8b && member[2] === 8
    && member.readUInt32LE(member.length - 4) === block.length % 2 ** 32
    && member.readUInt32LE(member.length - 8) === block.crc32;
}

/**
 * Where each gzip member of the store's recent layers lies, by the SHA-256
 * of its input block: a layer written again with mostly the same bytes (a
 * COPY of a tree where one file changed) takes those members from the blob
 * that holds them rather than compressing them again. One file of
 * checksummed lines, one per layer, appended when a layer is stored. A
 * member is taken only from a blob that is there and when its trailer's
 * CRC-32 and size are the block's, so a damaged line or a removed blob costs
 * a compression, never a wrong byte.
 */
export class GzipMemberIndex implements GzipMemberSource {
  private loaded?: Promise<Loaded>;

  constructor(
    private readonly file: string,
    private readonly layout: OciLayout,
  ) {}

  async find(block: BlockDigest): Promise<Buffer | undefined> {
    const { places } = await this.load();
    const place = places.get(block.sha256);
    if (!place) return undefined;
    const handle = await openIfExists(this.layout.blobPath(place.blob));
    if (!handle) {
      places.delete(block.sha256);
      return undefined;
    }
    try {
      const member = Buffer.allocUnsafe(place.length);
      const { bytesRead } = await handle.read(member, 0, place.length, place.offset);
      return bytesRead === place.length && holdsBlock(member, block) ? member : undefined;
    } finally {
      await handle.close();
    }
  }

  /** Remembers the members of `blob`, a gzip layer just stored, in the order it holds them. */
  async record(blob: Digest, members: readonly GzipMember[]): Promise<void> {
    if (members.length < MIN_MEMBERS) return;
    const loaded = await this.load();
    const fields = members.map((m): [string, number] => [m.block, m.length]);
    const line: LayerLine = { blob, text: encodeChecksummedLine([blob, fields]) };
    addPlaces(loaded.places, blob, fields);
    loaded.layers.push(line);
    if (!loaded.rewrite && loaded.layers.length <= MAX_LAYERS) {
      await appendFile(this.file, checksummedLinesText([line.text]));
      return;
    }
    const kept: LayerLine[] = [];
    for (let i = loaded.layers.length - 1; i >= 0 && kept.length < KEEP_LAYERS; i--) {
      if (await this.layout.hasBlob(loaded.layers[i]!.blob)) kept.unshift(loaded.layers[i]!);
    }
    loaded.layers = kept;
    await this.rewrite(loaded.layers);
    loaded.rewrite = false;
  }

  private load(): Promise<Loaded> {
    this.loaded ??= this.read();
    return this.loaded;
  }

  private async read(): Promise<Loaded> {
    const loaded: Loaded = { places: new Map(), layers: [], rewrite: true };
    const text = await readTextIfExists(this.file);
    if (text === undefined) return loaded;
    const lines = text.split('\n');
    const torn = lines.pop() !== '';
    const header = lines.length > 0 ? parseChecksummedLine(lines[0]!) : undefined;
    if (header?.[0] !== HEADER || header[1] !== GZIP_MEMBER_FORMAT) return loaded;
    for (const line of lines.slice(1)) {
      const value = parseChecksummedLine(line);
      const layer = value && layerOf(value);
      if (!layer) continue;
      addPlaces(loaded.places, layer.blob, layer.members);
      loaded.layers.push({ blob: layer.blob, text: line });
    }
    loaded.rewrite = torn;
    return loaded;
  }

  /** A whole new file renamed into place: a crash leaves the old one or the new one. */
  private async rewrite(layers: LayerLine[]): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, checksummedLinesText([encodeChecksummedLine([HEADER, GZIP_MEMBER_FORMAT]), ...layers.map((l) => l.text)]));
    await rename(tmp, this.file);
  }
}

/** The places of a layer's members (block hash, length); a later layer's place for the same block replaces an earlier one. */
function addPlaces(places: Map<string, MemberPlace>, blob: Digest, members: [string, number][]): void {
  let offset = 0;
  for (const [block, length] of members) {
    places.set(block, { blob, offset, length });
    offset += length;
  }
}
