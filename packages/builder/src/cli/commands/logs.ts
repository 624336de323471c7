import type { Command } from 'commander';
import { ContainerError } from '../../runtime/containerError.js';
import { observeIfPresent } from '../../runtime/containerStatus.js';
import { LogTail, readLog, type RecordSink } from '../../runtime/k8sFileLog.js';
import { parseLogTimeBound, parseTimestamp, type EpochNanos } from '../../runtime/logTime.js';
import { openContainers } from '../containerStoreOption.js';
import { ExitStatus } from '../exitStatus.js';
import { CLOSED_OUTPUT_STATUS, LogOutput } from '../logOutput.js';
import { withRootOption } from '../storeOption.js';

export function logsCommand(program: Command): void {
  withRootOption(program.command('logs'))
    .description('print a container\'s output: its stdout to stdout, its stderr to stderr')
    .argument('<container>', 'name or ID')
    .option('-f, --follow', 'keep printing new output until the container exits')
    .option('-n, --tail <lines>', 'only the last N lines ("all" for everything)', 'all')
    .option('-t, --timestamps', 'prefix each line with its time')
    .option('--since <time>', 'only output from this time on: a timestamp (2006-01-02T15:04:05Z), Unix seconds, or a duration ago (10m, 1h30m)')
    .option('--until <time>', 'only output up to this time, in the same forms as --since')
    .action(async (ref: string, opts: { follow?: boolean; tail: string; timestamps?: boolean; since?: string; until?: string }, cmd: Command) => {
      const now = new Date();
      const since = opts.since === undefined ? undefined : parseLogTimeBound('--since', opts.since, now);
      const until = opts.until === undefined ? undefined : parseLogTimeBound('--until', opts.until, now);
      const { containers } = await openContainers(cmd);
      const c = await containers.find(ref);
      const out = new LogOutput(opts.timestamps ?? false);
      const write = inTimeRange(out.write, since, until);
      const beforeUntil = () => until === undefined || BigInt(Date.now()) * 1_000_000n <= until;
      const running = async () => !out.closed.aborted && beforeUntil() && (await observeIfPresent(containers, c))?.status === 'running';
      let offset = 0;
      if (opts.tail !== 'all') {
        const lines = Number(opts.tail);
        if (!Number.isInteger(lines) || lines < 0) throw new ContainerError('invalid-option', `invalid --tail ${JSON.stringify(opts.tail)}: expected a number or "all"`);
        const tail = new LogTail(lines);
        offset = await readLog(c.paths.log, 0, inTimeRange((r) => tail.add(r), since, until), async () => false);
        for (const r of tail.take()) await write(r);
      }
      try {
        await readLog(c.paths.log, offset, write, opts.follow ? running : async () => false, out.closed);
      } finally {
        out.dispose();
      }
      if (out.closed.aborted) throw new ExitStatus(CLOSED_OUTPUT_STATUS);
    });
}

/** Passes on only records written within [since, until]; a record whose time cannot be read is passed on, as output is not to be lost. */
function inTimeRange(onRecord: RecordSink, since: EpochNanos | undefined, until: EpochNanos | undefined): RecordSink {
  if (since === undefined && until === undefined) return onRecord;
  return (r) => {
    const t = parseTimestamp(r.time);
    if (t !== undefined && ((since !== undefined && t < since) || (until !== undefined && t > until))) return undefined;
    return onRecord(r);
  };
}
