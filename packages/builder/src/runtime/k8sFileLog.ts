import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

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

/**
 * Reads records from `path` starting at byte `offset`: what is there now,
 * then (while `follow()` says so) what is appended, polling. A record is
 * handed on only once its newline is written. Returns the offset reached.
 */
export async function readLog(path: string, offset: number, onRecord: (r: LogRecord) => void, follow: () => Promise<boolean>): Promise<number> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (!(await follow())) return offset;
    await sleep(50);
    return readLog(path, offset, onRecord, follow);
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    let pending = Buffer.alloc(0);
    let position = offset;
    let last = false;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, position);
      if (bytesRead > 0) {
        position += bytesRead;
        let chunk = Buffer.concat([pending, buf.subarray(0, bytesRead)]);
        let nl: number;
        while ((nl = chunk.indexOf(NEWLINE)) >= 0) {
          const record = parseLogRecord(chunk.subarray(0, nl));
          if (record) onRecord(record);
          chunk = chunk.subarray(nl + 1);
        }
        pending = Buffer.from(chunk);
        continue;
      }
      if (last) return position - pending.length;
      // Asked before one more read, so what was written just before the end is not missed.
      if (!(await follow())) {
        last = true;
        continue;
      }
      await sleep(50);
    }
  } finally {
    await fh.close();
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
