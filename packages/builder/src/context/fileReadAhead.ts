import { awaitedElsewhere, readSmallFiles } from '@tsbuild/oci-layout';

/** A group is one thread-pool job: at most this many files and bytes. */
const GROUP_FILES = 128;
const GROUP_BYTES = 4 * 1024 * 1024;

/** A small regular file to read: its name and lstat size. */
export interface SmallFile {
  name: string;
  size: number;
}

/** Sees file `index` as its group is read: its bytes, its ctime after the read, and its content hash if the reads were asked to hash. */
export type ReadWatcher = (index: number, content: Buffer, ctimeMs: number, hash: string | undefined) => void;

/**
 * The contents of a directory's small files, in the order they will be asked
 * for, read on libuv's thread pool a group at a time; asking for one group
 * starts the next. A tree of small files then costs the main thread no
 * syscall per file, the reads overlap its work, and at most three groups of a
 * directory are in memory. `watch` sees each file read, in a plain loop per
 * group: a check per file costs no promise of its own. With `hashed`, each
 * file's content hash (contentHash's) is worked out on the pool as well.
 * Two groups are read ahead of the one asked for: on a tree of small files
 * one pool job reads about as fast as the main thread writes what it read.
 * `nearEnd` is called once, when the last group starts: the caller may start
 * the next directory's reads then, so the walk does not wait at its start.
 */
export class FileReadAhead {
  /** Index of each group's first file, and the file count at the end. */
  private readonly starts: number[] = [];
  private readonly groupOf: number[] = [];
  private readonly groups = new Map<number, Promise<(Buffer | Error)[]>>();
  /** The results of the groups in `groups` whose reads are done. */
  private readonly loaded = new Map<number, (Buffer | Error)[]>();
  /** The group the last read asked for. */
  private asked = -1;

  constructor(
    private readonly dir: string,
    private readonly files: SmallFile[],
    private readonly watch?: ReadWatcher,
    private readonly hashed = false,
    private nearEnd?: () => void,
  ) {
    let bytes = 0;
    for (let i = 0; i < files.length; i++) {
      const size = files[i]!.size + 1;
      const first = this.starts.length === 0 ? -1 : this.starts[this.starts.length - 1]!;
      if (first < 0 || i - first >= GROUP_FILES || bytes + size > GROUP_BYTES) {
        this.starts.push(i);
        bytes = 0;
      }
      bytes += size;
      this.groupOf.push(this.starts.length - 1);
    }
    this.starts.push(files.length);
    this.start(0);
    this.start(1);
    if (files.length === 0) this.reachedEnd();
  }

  /**
   * The content of file `i`, read (once) by its group: at once when the group
   * is in (no promise per file of a tree of small files), else a promise.
   */
  read(i: number): Buffer | Promise<Buffer> {
    const group = this.groupOf[i]!;
    if (group !== this.asked) this.ask(group);
    const slot = i - this.starts[group]!;
    const results = this.loaded.get(group);
    return results ? contentOf(results[slot]!) : this.groups.get(group)!.then((reads) => contentOf(reads[slot]!));
  }

  /** Drops the groups before `group` and starts it and the two after it. */
  private ask(group: number): void {
    this.asked = group;
    for (const done of this.groups.keys()) {
      if (done >= group) continue;
      this.groups.delete(done);
      this.loaded.delete(done);
    }
    this.start(group);
    this.start(group + 1);
    this.start(group + 2);
  }

  private start(group: number): Promise<(Buffer | Error)[]> | undefined {
    if (group >= this.starts.length - 1) return undefined;
    let reads = this.groups.get(group);
    if (!reads) {
      const first = this.starts[group]!;
      const files = this.files.slice(first, this.starts[group + 1]);
      // A group started ahead may never be asked for (its entries replaced by a later source); its files' errors are values.
      const read = readSmallFiles(this.dir, files.map((f) => f.name), files.map((f) => f.size), { sha256: this.hashed });
      reads = awaitedElsewhere(read.then(({ contents, ctimesMs, sha256 }) => {
        const { watch } = this;
        if (watch) {
          for (let k = 0; k < contents.length; k++) {
            const content = contents[k]!;
            if (!(content instanceof Error)) watch(first + k, content, ctimesMs[k]!, sha256?.[k]);
          }
        }
        if (this.groups.get(group) === reads) this.loaded.set(group, contents);
        return contents;
      }));
      this.groups.set(group, reads);
      if (group === this.starts.length - 2) this.reachedEnd();
    }
    return reads;
  }

  private reachedEnd(): void {
    const nearEnd = this.nearEnd;
    this.nearEnd = undefined;
    nearEnd?.();
  }
}

function contentOf(result: Buffer | Error): Buffer {
  if (result instanceof Error) throw result;
  return result;
}
