import { awaitedElsewhere, readSmallFiles, type SmallFileRead } from '@tsbuild/oci-layout';

/** A group is one thread-pool job: at most this many files and bytes. */
const GROUP_FILES = 128;
const GROUP_BYTES = 4 * 1024 * 1024;

/** A small regular file to read: its name and lstat size. */
export interface SmallFile {
  name: string;
  size: number;
}

/**
 * The contents of a directory's small files, in the order they will be asked
 * for, read on libuv's thread pool a group at a time; asking for one group
 * starts the next. A tree of small files then costs the main thread no
 * syscall per file, the reads overlap its work, and at most two groups of a
 * directory are in memory.
 */
export class FileReadAhead {
  /** Index of each group's first file, and the file count at the end. */
  private readonly starts: number[] = [];
  private readonly groupOf: number[] = [];
  private readonly groups = new Map<number, Promise<(SmallFileRead | Error)[]>>();

  constructor(
    private readonly dir: string,
    private readonly files: SmallFile[],
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
  }

  /** File `i` as its group read it (once): its bytes, and its ctime after the read. */
  async read(i: number): Promise<SmallFileRead> {
    const group = this.groupOf[i]!;
    for (const done of this.groups.keys()) if (done < group) this.groups.delete(done);
    const results = this.start(group)!;
    this.start(group + 1);
    const result = (await results)[i - this.starts[group]!]!;
    if (result instanceof Error) throw result;
    return result;
  }

  private start(group: number): Promise<(SmallFileRead | Error)[]> | undefined {
    if (group >= this.starts.length - 1) return undefined;
    let reads = this.groups.get(group);
    if (!reads) {
      const files = this.files.slice(this.starts[group], this.starts[group + 1]);
      // A group started ahead may never be asked for (its entries replaced by a later source); its files' errors are values.
      reads = awaitedElsewhere(readSmallFiles(this.dir, files.map((f) => f.name), files.map((f) => f.size)));
      this.groups.set(group, reads);
    }
    return reads;
  }
}
