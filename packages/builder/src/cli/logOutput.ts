import type { RecordSink } from '../runtime/k8sFileLog.js';

/** What a shell reports for a tool that SIGPIPE ended: 128 + 13. */
export const CLOSED_OUTPUT_STATUS = 141;

const NEWLINE = Buffer.from('\n');

/**
 * Log records to our stdout and stderr as the container wrote them; with
 * timestamps, each line starts with its time (the first part's, for a line
 * that came in parts). Once whoever reads them closes either stream (`|
 * head`), writing stops and `closed` aborts: the command then ends as a tool
 * ends on SIGPIPE (docker's and podman's CLIs die of it), quietly, not with
 * an unhandled EPIPE. While a stream holds more than it passes on, `write`
 * gives a promise of its drain: Node's stdout buffers without bound otherwise.
 */
export class LogOutput {
  private readonly closing = new AbortController();
  readonly closed = this.closing.signal;
  private readonly midLine = { stdout: false, stderr: false };
  private readonly onError = (e: NodeJS.ErrnoException): void => {
    // Anything else is as unexpected as it was without this listener.
    if (e.code !== 'EPIPE') throw e;
    this.closing.abort();
  };

  constructor(private readonly timestamps: boolean) {
    process.stdout.on('error', this.onError);
    process.stderr.on('error', this.onError);
  }

  readonly write: RecordSink = (r) => {
    if (this.closed.aborted) return undefined;
    const out = r.stream === 'stdout' ? process.stdout : process.stderr;
    const prefix = this.timestamps && !this.midLine[r.stream] ? `${r.time} ` : '';
    const line = r.partial ? [r.content] : [r.content, NEWLINE];
    const room = out.write(Buffer.concat(prefix ? [Buffer.from(prefix), ...line] : line));
    this.midLine[r.stream] = r.partial;
    return room ? undefined : this.drained(out);
  };

  /** Once `out` has passed on what it holds, or the reader has gone. */
  private drained(out: NodeJS.WriteStream): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        out.off('drain', done);
        this.closed.removeEventListener('abort', done);
        resolve();
      };
      out.on('drain', done);
      this.closed.addEventListener('abort', done);
    });
  }

  /** Stops listening for a closed stream; `closed` keeps its verdict. */
  dispose(): void {
    process.stdout.off('error', this.onError);
    process.stderr.off('error', this.onError);
  }
}
