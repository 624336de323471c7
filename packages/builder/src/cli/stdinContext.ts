import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { applyLayer, detectCompression } from '@tsbuild/oci-layout';

/** The first bytes of `input` (at least `want`, unless it ends first) and the whole stream again. */
async function peek(input: Readable, want: number): Promise<{ head: Buffer; stream: Readable }> {
  const source = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < want) {
    const next = await source.next();
    if (next.done) {
      ended = true;
      break;
    }
    chunks.push(next.value);
    length += next.value.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* chunks;
    if (!ended) yield* { [Symbol.asyncIterator]: () => source };
  }
  return { head: Buffer.concat(chunks), stream: Readable.from(replay(), { objectMode: false }) };
}

/** A tar header has "ustar" at offset 257 (POSIX and GNU formats alike). */
function isTar(head: Buffer): boolean {
  return head.subarray(257, 262).toString('latin1') === 'ustar';
}

export interface StdinContext {
  dir: string;
  /** Set when stdin held a Dockerfile rather than an archive: the context is then empty. */
  dockerfileText?: string;
  cleanup(): Promise<void>;
}

/**
 * `tsbuild build - < ctx.tar`: the context arrives as a tar stream (plain, gzip or zstd), unpacked
 * into a temp dir by the same code that unpacks layers (names confined to the dir, links never
 * followed); or, as `docker build - < Dockerfile`, stdin is the Dockerfile and the context empty.
 */
export async function contextFromStdin(input: Readable, tmpDir: string): Promise<StdinContext> {
  const dir = await mkdtemp(join(tmpDir, 'stdin-context-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const { head, stream } = await peek(input, 512);
    if (detectCompression(head) !== 'none' || isTar(head)) {
      // Owners in a context archive are the sender's; COPY gives root unless --chown says otherwise.
      await applyLayer(dir, stream, { sameOwner: false });
      return { dir, cleanup };
    }
    return { dir, dockerfileText: await readStdinText(stream), cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** `-f -`: the whole of stdin is the Dockerfile. */
export async function readStdinText(input: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
