import { constants } from 'node:os';
import { join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { encodeName, fsPath, hasEscapedBytes } from './byteNames.js';
import { fsNative } from './fsNative.js';
import type { LayerEntry } from './layerEntry.js';

/** A file a batch creates: its directory (root-relative, '' the root), its name there, its bytes and what to set. */
export interface BatchedFile {
  /** Root-relative path: `directory/name`. */
  path: string;
  directory: string;
  name: string;
  content: Buffer[];
  /** The mode it is created with (before the umask). */
  createMode: number;
  /** Set after the content; undefined to keep the creator's. */
  owner: { uid: number; gid: number } | undefined;
  /** Set after the owner; undefined to keep `createMode`. */
  mode: number | undefined;
  /** Seconds since the epoch, access and modification time alike. */
  mtime: number;
  /** The entry it comes from, for the fallback. */
  entry: LayerEntry;
}

/** A file of a batch that could not be created: `path` and the errno error that stopped it. */
export class BatchedFileError extends Error {
  constructor(
    readonly path: string,
    override readonly cause: Error,
  ) {
    super(cause.message, { cause });
  }
}

/**
 * Applies files of a batch the batch could not create itself, in order: those
 * from the first one whose path held a directory (a batch removes only
 * non-directories) to the batch's end.
 */
export type FileFallback = (file: BatchedFile) => Promise<void>;

/** A file's content up to this size may go into a batch. */
export const MAX_BATCHED_FILE = 256 * 1024;
const BATCH_FILES = 128;
const BATCH_BYTES = 1024 * 1024;
/** Batches on the pool at once: enough to keep it busy, few enough to leave zlib a thread and bound memory. */
const MAX_IN_FLIGHT = 3;
const FIELDS = 6;

interface Batch {
  directory: string;
  files: BatchedFile[];
  bytes: number;
}

interface Submitted {
  batch: Batch;
  /** The slab holding the batch's contents: free again once the batch has settled. */
  slab: Buffer;
  outcome: Promise<[done: number, errno: number, syscall: string]>;
}

/**
 * Creates small regular files in batches on libuv's thread pool (native
 * createFiles: one job per batch of one directory's files), while the caller
 * goes on parsing the layer. A batch's directory is opened by the job below
 * the root without following any symlink, and each file is created there
 * with O_EXCL|O_NOFOLLOW, so nothing lands outside the root whatever the
 * tree holds by then.
 *
 * Order: a directory has one batch on the pool at a time, so its files are
 * created in the order they were added (a later file of the same path
 * replaces the earlier one); batches of different directories may run at
 * once. The caller calls `flush` before any other change to the tree (but
 * for making a new directory where nothing is and no queued file is to be,
 * see `holds`): then no later entry can remove or replace what a batch works
 * in, and each path sees its entries in layer order.
 */
export class SmallFileBatches {
  private open: Batch | undefined;
  private readonly submitted: Submitted[] = [];
  /**
   * Buffers of BATCH_BYTES the batches' contents are copied into, reused from
   * batch to batch (one per batch in flight). A new buffer per batch was a GB
   * of ArrayBuffers at a million small files, and the dead ones the collector
   * had not freed yet were part of the peak RSS.
   */
  private readonly freeSlabs: Buffer[] = [];
  /** The fields of the batch being submitted: the native call copies them before it returns. */
  private readonly fields = new Float64Array(BATCH_FILES * FIELDS);

  /** `rootfs`: the root's host path, for messages only. */
  constructor(
    private readonly rootFd: number,
    private readonly rootfs: string,
    private readonly fallback: FileFallback,
  ) {}

  /** Queues `file`; throws the BatchedFileError of an earlier file if waiting for room finds one. */
  async add(file: BatchedFile): Promise<void> {
    let bytes = 0;
    for (const chunk of file.content) bytes += chunk.length;
    const open = this.open;
    if (open && (open.directory !== file.directory || open.files.length === BATCH_FILES || open.bytes + bytes > BATCH_BYTES)) await this.submitOpen();
    this.open ??= { directory: file.directory, files: [], bytes: 0 };
    this.open.files.push(file);
    this.open.bytes += bytes;
  }

  /** Whether a queued file (not yet known to be created) is `directory/name`. */
  holds(directory: string, name: string): boolean {
    const holding = (batch: Batch) => batch.directory === directory && batch.files.some((file) => file.name === name);
    return (this.open !== undefined && holding(this.open)) || this.submitted.some((s) => holding(s.batch));
  }

  /** Waits until every queued file is created; throws the BatchedFileError of the first that failed, in the order they were added. */
  async flush(): Promise<void> {
    if (this.open) await this.submitOpen();
    while (this.submitted.length > 0) await this.settleOldest();
  }

  /**
   * After a failure elsewhere: waits for the batches on the pool, so none
   * writes after the caller has closed `rootFd` or cleaned up. Their own
   * outcomes are dropped: the caller reports its first error, not these.
   */
  async abandon(): Promise<void> {
    this.open = undefined;
    // Settled, never thrown: each is a later consequence of the failure being reported.
    await Promise.allSettled(this.submitted.splice(0).map((s) => s.outcome));
  }

  /**
   * One batch of a directory at a time: creates in one directory take its
   * lock one after another anyway, and threads waiting on it spin.
   */
  private async submitOpen(): Promise<void> {
    const batch = this.open!;
    this.open = undefined;
    while (this.submitted.length >= MAX_IN_FLIGHT || this.submitted.some((s) => s.batch.directory === batch.directory)) await this.settleOldest();
    let slab = this.freeSlabs.pop();
    // A hand-made entry (applyChanges) may bring more bytes than a batch takes.
    if (!slab || slab.length < batch.bytes) slab = Buffer.allocUnsafeSlow(Math.max(BATCH_BYTES, batch.bytes));
    const fields = this.fields;
    let names = '';
    let offset = 0;
    // Plain loops: these run once per file of a tree of small files.
    for (let i = 0; i < batch.files.length; i++) {
      const file = batch.files[i]!;
      const start = offset;
      for (const chunk of file.content) offset += chunk.copy(slab, offset);
      // The copy, not the layer's chunks (views of larger buffers), is what the batch keeps.
      file.content = [slab.subarray(start, offset)];
      const at = i * FIELDS;
      fields[at] = offset - start;
      fields[at + 1] = file.createMode;
      fields[at + 2] = file.owner ? file.owner.uid : -1;
      fields[at + 3] = file.owner ? file.owner.gid : -1;
      fields[at + 4] = file.mode ?? -1;
      fields[at + 5] = file.mtime;
      names += `${file.name}\0`;
    }
    const outcome = fsNative().createFiles(
      this.rootFd,
      fsPath(batch.directory),
      hasEscapedBytes(names) ? encodeName(names) : names,
      slab.subarray(0, offset),
      fields.subarray(0, batch.files.length * FIELDS),
    );
    this.submitted.push({ batch, slab, outcome });
  }

  private async settleOldest(): Promise<void> {
    const { batch, slab, outcome } = this.submitted[0]!;
    // Shifted only once settled, so abandon() still waits for it if this throws.
    const [done, errno, syscall] = await outcome.finally(() => this.submitted.shift());
    try {
      if (done === batch.files.length) return;
      const failed = batch.files[done]!;
      if (errno !== -constants.errno.EEXIST || syscall !== 'open') throw new BatchedFileError(failed.path, errnoError(errno, syscall, join(this.rootfs, failed.path)));
      // EEXIST from open: a directory is in the way, which only the caller removes (and forgets).
      for (const file of batch.files.slice(done)) {
        try {
          await this.fallback(file);
        } catch (error) {
          throw new BatchedFileError(file.path, error as Error);
        }
      }
    } finally {
      // The fallback has read the files' contents from it, or will never.
      this.freeSlabs.push(slab);
    }
  }
}

/** An Error shaped like Node's own for a failed syscall (code, errno, syscall, path). */
function errnoError(errno: number, syscall: string, path: string): NodeJS.ErrnoException {
  const [code, description] = getSystemErrorMap().get(errno) ?? ['EIO', 'i/o error'];
  return Object.assign(new Error(`${code}: ${description}, ${syscall} '${path}'`), { code, errno, syscall, path });
}
