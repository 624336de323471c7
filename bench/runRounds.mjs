// Runs benchmark cases round-robin under measureCommand. Shared by every group of the bench.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { measureCommand } from './measureCommand.mjs';

const MiB = 1024 * 1024;

/** Written data may still be in the page cache; flush it outside the timed region so one
 * tool's writeback does not slow the next tool's run. */
function settle() {
  spawnSync('sync');
}

/** Builders bind-mount /proc, /dev and the like into their roots while a RUN step runs; a
 * recursive delete through such a mount would empty the host's, so refuse instead. */
export function removeTree(dir) {
  const mounted = readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((point) => point && (point === dir || point.startsWith(`${dir}/`)));
  if (mounted.length) throw new Error(`refusing to delete ${dir}: still mounted below it: ${mounted.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
}

export function emptyOutput(root) {
  removeTree(root);
  mkdirSync(dirname(root), { recursive: true });
}

/**
 * Round-robin over the cases, so drift in the machine's state spreads over every tool alike.
 * Before each run, untimed, `c.before(root)` sets the stage (default: an empty output
 * directory); the last run's output is kept for the cases that follow. `c.check(run)`, if
 * given, returns what was wrong with a run that succeeded (or nothing); it lands in c.faults.
 * `c.env`, if given, is the command's environment. With `alternate`, even rounds run the cases in
 * reverse order, so a pair's drift over a round does not always fall on the same side.
 */
export async function runRounds(cases, { work, runs, progress }, { alternate = false } = {}) {
  for (let round = 1; round <= runs; round++) {
    for (const c of alternate && round % 2 === 0 ? [...cases].reverse() : cases) {
      await (c.before ?? emptyOutput)(c.root);
      settle();
      const run = await measureCommand(c.argv(c.root), { cwd: work, reportFile: join(work, 'time-report.txt'), env: c.env });
      c.runs.push(run);
      const fault = c.check?.(run);
      if (fault) c.faults.push(fault);
      progress(`${c.tool} ${c.caseName} run ${round}/${runs}: ${run.wallSeconds.toFixed(2)} s, ${(run.peakRssBytes / MiB).toFixed(0)} MiB`);
    }
  }
}

/** A case as runRounds wants it: `root` is where its output goes. */
export function benchCase(fields) {
  return { ...fields, runs: [], faults: [] };
}
