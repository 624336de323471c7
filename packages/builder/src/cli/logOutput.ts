import type { LogRecord } from '../runtime/k8sFileLog.js';

/**
 * Writes log records to our stdout and stderr as the container wrote them;
 * with timestamps, each line starts with its time (the first part's, for a
 * line that came in parts).
 */
export function logWriter(timestamps: boolean): (r: LogRecord) => void {
  const midLine = { stdout: false, stderr: false };
  return (r) => {
    const out = r.stream === 'stdout' ? process.stdout : process.stderr;
    const prefix = timestamps && !midLine[r.stream] ? `${r.time} ` : '';
    out.write(prefix ? Buffer.concat([Buffer.from(prefix), r.content]) : r.content);
    if (!r.partial) out.write('\n');
    midLine[r.stream] = r.partial;
  };
}
