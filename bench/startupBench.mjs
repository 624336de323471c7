// Start-up (#14): what each command costs before it does anything, against bare `node -e 0`.
// Every command's start-up must stay within 0.1 s of it.
import { join } from 'node:path';
import { summarise } from './benchReport.mjs';
import { benchCase, runRounds } from './runRounds.mjs';

const MAX_OVERHEAD_SECONDS = 0.1;

export async function startupGroup(ctx) {
  const tsbuild = (...args) => (root) => ['node', ctx.tsbuildBin, '--root', root, ...args];
  const cases = [
    { key: 'node', tool: 'node', caseName: 'node -e 0 (floor)', argv: () => ['node', '-e', '0'] },
    { key: 'help', tool: 'tsbuild', caseName: 'tsbuild --help', argv: tsbuild('--help') },
    { key: 'images', tool: 'tsbuild', caseName: 'tsbuild images (empty store)', argv: tsbuild('images') },
    { key: 'build-help', tool: 'tsbuild', caseName: 'tsbuild build --help', argv: tsbuild('build', '--help') },
    { key: 'ps', tool: 'tsbuild', caseName: 'tsbuild ps (no containers)', argv: tsbuild('ps') },
    { key: 'run-help', tool: 'tsbuild', caseName: 'tsbuild run --help', argv: tsbuild('run', '--help') },
    { key: 'tsdive-help', tool: 'tsdive', caseName: 'tsdive --help', argv: () => ['node', ctx.tsdiveBin, '--help'] },
  ].map((c) => benchCase({ ...c, anchor: c.key === 'node' ? undefined : 'node', root: join(ctx.work, 'startup') }));
  // Start-up is short and noisy: at least 10 runs whatever BENCH_RUNS says.
  await runRounds(cases, { ...ctx, runs: Math.max(10, ctx.runs) });
  const rows = cases.map(summarise);
  const floor = rows[0];
  return {
    title: 'Start-up (#14)',
    parameters: 'Each command run to completion with nothing to do; median of at least 10 runs.',
    rows,
    targets: rows.slice(1).map((row) => {
      const overhead = row.wallSeconds - floor.wallSeconds;
      return { label: `start-up (#14): ${row.caseName} <= node -e 0 + ${MAX_OVERHEAD_SECONDS} s`,
        measured: `+${overhead.toFixed(3)} s (${row.wallSeconds.toFixed(3)} s wall)`, met: overhead <= MAX_OVERHEAD_SECONDS };
    }),
  };
}
