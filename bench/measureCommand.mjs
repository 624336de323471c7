// Runs one command under GNU time so that wall time, CPU time and the peak resident set of
// the largest process in its tree are measured the same way for every tool.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

/** Microseconds some runnable task waited for a CPU since boot (PSI); null without PSI. */
export function cpuStallMicros() {
  try {
    const some = readFileSync('/proc/pressure/cpu', 'utf8').split('\n').find((l) => l.startsWith('some'));
    return Number(/total=(\d+)/.exec(some)[1]);
  } catch {
    return null;
  }
}

/** The share of `wallSeconds` in which some task waited for a CPU, from two cpuStallMicros readings; null without PSI. */
export function cpuPressure(stallBefore, stallAfter, wallSeconds) {
  return stallBefore === null || stallAfter === null ? null : (stallAfter - stallBefore) / 1e6 / wallSeconds;
}

function field(report, label) {
  const line = report.split('\n').find((l) => l.trim().startsWith(label));
  if (!line) throw new Error(`GNU time report has no "${label}" line:\n${report}`);
  return Number(line.slice(line.lastIndexOf(':') + 1).trim());
}

/**
 * Resolves to { wallSeconds, cpuSeconds, peakRssBytes, cpuPressure, outputTail }; cpuPressure is the share
 * of the wall time in which some task on the machine waited for a CPU, which tells a run slowed
 * by other work on a shared machine from a genuinely slow one. Rejects with the tail of the
 * command's output when it exits non-zero, since a failed run must not become a fast number.
 */
export function measureCommand(argv, { cwd, reportFile, env = process.env }) {
  return new Promise((resolve, reject) => {
    const stallBefore = cpuStallMicros();
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-v', '-o', reportFile, ...argv], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keepTail = (chunk) => { output = (output + chunk.toString()).slice(-4000); };
    child.stdout.on('data', keepTail);
    child.stderr.on('data', keepTail);
    child.on('error', reject);
    child.on('close', (code) => {
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      const stallAfter = cpuStallMicros();
      if (code !== 0) {
        reject(new Error(`${argv.join(' ')} exited with ${code}:\n${output}`));
        return;
      }
      const report = readFileSync(reportFile, 'utf8');
      rmSync(reportFile);
      resolve({
        wallSeconds,
        cpuSeconds: field(report, 'User time (seconds)') + field(report, 'System time (seconds)'),
        peakRssBytes: field(report, 'Maximum resident set size (kbytes)') * 1024,
        cpuPressure: cpuPressure(stallBefore, stallAfter, wallSeconds),
        outputTail: output,
      });
    });
  });
}
