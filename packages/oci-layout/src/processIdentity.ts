import { readFileSync } from 'node:fs';

/**
 * A process as the kernel knows it: its PID together with its start time
 * (field 22 of /proc/PID/stat, in clock ticks since boot), so that a record
 * left by a killed process is not mistaken for a live one once the PID is
 * reused.
 */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/** The start time of `pid`, or undefined when no such process exists. */
function startTimeOf(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw e;
  }
  // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' are plain.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[22 - 3];
}

let own: ProcessIdentity | undefined;

export function currentProcess(): ProcessIdentity {
  own ??= { pid: process.pid, startTime: startTimeOf(process.pid) ?? '' };
  return own;
}

/** Whether some process has this PID now, whichever it is: for a PID recorded without its start time. */
export function processExists(pid: number): boolean {
  return Number.isInteger(pid) && pid > 0 && startTimeOf(pid) !== undefined;
}

/** Whether the process a record names still runs (the same process, not a later one with its PID). */
export function processAlive(identity: ProcessIdentity): boolean {
  if (!Number.isInteger(identity.pid) || identity.pid <= 0) return false;
  const startTime = startTimeOf(identity.pid);
  return startTime !== undefined && startTime === identity.startTime;
}

/** `PID START` as one line, the form lock and lease files hold. */
export function formatProcessIdentity(identity: ProcessIdentity): string {
  return `${identity.pid} ${identity.startTime}`;
}

/** Reads `PID START`; a bare PID (written before start times were recorded) matches whatever runs under it. */
export function parseProcessIdentity(text: string): ProcessIdentity | undefined {
  const [pid, startTime] = text.trim().split(/\s+/);
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return undefined;
  return { pid: n, startTime: startTime ?? startTimeOf(n) ?? '' };
}
