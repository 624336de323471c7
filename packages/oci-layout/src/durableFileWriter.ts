import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { withNoSpacePath } from './noSpaceLeft.js';
import { Writeback } from './writeback.js';

/**
 * A Writable that creates `path` (it must not exist) and has everything
 * written to it on disk when it finishes: its final step is an fsync.
 *
 * While data streams in, the file is flushed in the background (Writeback).
 * Chunks are gathered into one writev per round trip to the thread pool.
 */
export class DurableFileWriter extends Writable {
  private handle?: FileHandle;
  private written = 0;
  private writeback?: Writeback;

  constructor(private readonly path: string) {
    super({ highWaterMark: 1 << 20 });
  }

  get bytesWritten(): number {
    return this.written;
  }

  override _construct(done: (error?: Error | null) => void): void {
    open(this.path, 'wx').then(
      (handle) => {
        this.handle = handle;
        this.writeback = new Writeback(handle);
        done();
      },
      (error: Error) => done(withNoSpacePath(error, this.path) as Error),
    );
  }

  override _writev(chunks: { chunk: Buffer }[], done: (error?: Error | null) => void): void {
    this.writeAll(chunks.map((c) => c.chunk)).then(() => done(), (e: Error) => done(withNoSpacePath(e, this.path) as Error));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.writeAll([chunk]).then(() => done(), (e: Error) => done(withNoSpacePath(e, this.path) as Error));
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    const handle = this.handle!;
    let pending = buffers;
    while (pending.length > 0) {
      const { bytesWritten } = await handle.writev(pending);
      this.written += bytesWritten;
      pending = remainder(pending, bytesWritten);
    }
    this.writeback!.wrote(this.written);
  }

  override _final(done: (error?: Error | null) => void): void {
    const handle = this.handle!;
    (async () => {
      await this.writeback!.settled();
      await handle.sync();
    })().then(() => done(), (e: Error) => done(withNoSpacePath(e, this.path) as Error));
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) {
      done(error);
      return;
    }
    this.writeback!.settled()
      .then(() => handle.close())
      .then(
        () => done(error),
        (closeError: Error) => done(error ?? closeError),
      );
  }
}

/**
 * Pipes `source` (through `transforms`) into a new file at `path`, fsynced;
 * its byte count. It settles only once the file is closed: `pipeline` can
 * reject (a source failing at once) while the writer is still opening the
 * file, which then appears after the caller has removed it.
 */
export async function writeNewFile(path: string, source: NodeJS.ReadableStream, ...transforms: NodeJS.ReadWriteStream[]): Promise<number> {
  const out = new DurableFileWriter(path);
  try {
    await pipeline([source, ...transforms, out]);
  } finally {
    if (!out.closed) await new Promise((resolve) => out.once('close', resolve));
  }
  return out.bytesWritten;
}

/** What is left of `buffers` after the first `count` bytes were written. */
export function remainder(buffers: Buffer[], count: number): Buffer[] {
  let skip = count;
  let i = 0;
  while (i < buffers.length && skip >= buffers[i]!.length) skip -= buffers[i++]!.length;
  if (i === buffers.length) return [];
  return [buffers[i]!.subarray(skip), ...buffers.slice(i + 1)];
}
