import { stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { openIfExists } from '@tsbuild/oci-layout';
import { DirectoryChanges } from './directoryChanges.js';

/** One record of conmon's k8s-file log: `TIME STREAM P|F CONTENT`, P for part of a longer line. */
export interface LogRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  /** The line goes on in the next record (no newline after this content). */
  partial: boolean;
  content: Buffer;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;

export function parseLogRecord(line: Buffer): LogRecord | undefined {
  const a = line.indexOf(SPACE);
  const b = a < 0 ? -1 : line.indexOf(SPACE, a + 1);
  const c = b < 0 ? -1 : line.indexOf(SPACE, b + 1);
  if (c < 0) return undefined;
  const stream = line.subarray(a + 1, b).toString();
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  return { time: line.subarray(0, a).toString(), stream, partial: line.subarray(b + 1, c).toString() === 'P', content: line.subarray(c + 1) };
}

/** Takes a record; a promise to wait for before the next when the reader behind it is slower than the log. */
export type RecordSink = (r: LogRecord) => void | Promise<void>;

/** How long a follower waits without any change in the log's directory before asking `follow()` again. */
const FOLLOW_CHECK_MS = 1000;

/** Whether `path` names another file than the open `fh`: conmon rotated the log (a new file renamed over it). */
async function replaced(path: string, fh: FileHandle): Promise<boolean> {
  try {
    return (await stat(path)).ino !== (await fh.stat()).ino;
  } catch (e) {
    // Between conmon's open of the new file and its rename there is no gap: a missing log was removed with its container.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * Reads records from `path` starting at byte `offset`: what is there now,
 * then (while `follow()` says so) what is appended, woken by changes in the
 * log's directory. When conmon rotates the log (`--log-opt max-size`), the
 * old file is read to its end and the new one from its start, as `tail -F`
 * does. A record is handed on only once its newline is written, and no more
 * is read while `onRecord`'s promise is pending, so a slow reader of a big log
 * holds back the reading instead of filling memory. Returns the offset
 * reached in the file read last; `stop` ends the reading between two chunks,
 * even of a log that grows faster than it is read.
 */
export async function readLog(path: string, offset: number, onRecord: RecordSink, follow: () => Promise<boolean>, stop?: AbortSignal): Promise<number> {
  // Watching from before the first look at the file, so that no change after it is missed.
  const changes = new DirectoryChanges(dirname(path));
  const waitForChange = () => changes.next(FOLLOW_CHECK_MS);
  let fh: FileHandle | undefined;
  try {
    for (;;) {
      fh = await openIfExists(path);
      if (fh) break;
      if (!(await follow())) return offset;
      await waitForChange();
    }
    const buf = Buffer.alloc(64 * 1024);
    let pending = Buffer.alloc(0);
    let position = offset;
    let last = false;
    for (;;) {
      if (stop?.aborted) return position - pending.length;
      const { bytesRead } = await fh.read(buf, 0, buf.length, position);
      if (bytesRead > 0) {
        position += bytesRead;
        let chunk = Buffer.concat([pending, buf.subarray(0, bytesRead)]);
        let nl: number;
        while ((nl = chunk.indexOf(NEWLINE)) >= 0) {
          const record = parseLogRecord(chunk.subarray(0, nl));
          const held = record && onRecord(record);
          if (held) await held;
          chunk = chunk.subarray(nl + 1);
        }
        pending = Buffer.from(chunk);
        continue;
      }
      if (last) return position - pending.length;
      // conmon closed the old file before it renamed the new one over it: read to this end, then go on in the new one.
      if (await replaced(path, fh)) {
        const { bytesRead: more } = await fh.read(buf, 0, 1, position);
        if (more > 0) continue;
        await fh.close();
        fh = await openIfExists(path);
        // Removed with its container meanwhile: nothing more to read.
        if (!fh) return 0;
        position = 0;
        pending = Buffer.alloc(0);
        continue;
      }
      // Asked before one more read, so what was written just before the end is not missed.
      if (!(await follow())) {
        last = true;
        continue;
      }
      await waitForChange();
    }
  } finally {
    changes.close();
    await fh?.close();
  }
}

/**
 * Keeps the records of the last `lines` complete lines (a long line's parts
 * count as one), so `--tail` holds no more than that in memory.
 */
export class LogTail {
  private records: LogRecord[] = [];
  private complete = 0;

  constructor(private readonly lines: number) {}

  add(record: LogRecord): void {
    this.records.push(record);
    if (record.partial) return;
    this.complete++;
    while (this.complete > this.lines) {
      const dropped = this.records.shift()!;
      if (!dropped.partial) this.complete--;
    }
  }

  take(): LogRecord[] {
    return this.records;
  }
}
