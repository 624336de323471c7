import type { LogRecord } from '../runtime/k8sFileLog.js';

/** What a shell reports for a tool that SIGPIPE ended: 128 + 13. */
export const CLOSED_OUTPUT_STATUS = 141;

/**
 * Log records to our stdout and stderr as the container wrote them; with
 * timestamps, each line starts with its time (the first part's, for a line
 * that came in parts). Once whoever reads them closes either stream (`|
 * head`), writing stops and `closed` aborts: the command then ends as a tool
 * ends on SIGPIPE (docker's and podman's CLIs die of it), quietly, not with
 * an unhandled EPIPE.
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

  readonly write = (r: LogRecord): void => {
    if (this.closed.aborted) return;
    const out = r.stream === 'stdout' ? process.stdout : process.stderr;
    const prefix = this.timestamps && !this.midLine[r.stream] ? `${r.time} ` : '';
    out.write(prefix ? Buffer.concat([Buffer.from(prefix), r.content]) : r.content);
    if (!r.partial) out.write('\n');
    this.midLine[r.stream] = r.partial;
  };

  /** Stops listening for a closed stream; `closed` keeps its verdict. */
  dispose(): void {
    process.stdout.off('error', this.onError);
    process.stderr.off('error', this.onError);
  }
}
