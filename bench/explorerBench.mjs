// The explorer's speed targets (#5): its first screen against decompressing the layers, and the
// latency of moving the selection in the layers pane (which switches the tree to another layer,
// in both views) and in the file tree pane.
import { join } from 'node:path';
import { median, summarise } from './benchReport.mjs';
import { tuiSession, tmuxServer } from './tuiSession.mjs';

const MAX_MOVE_MS = 50;
const CASES = ['layers pane, this layer', 'layers pane, aggregated', 'file tree pane'];
const PLAN_NOTE = 'one key at a time, 100 ms apart (a key pressed, not held); '
  + 'layer moves go down to the last layer and back up; ctrl+a, then tab, between the cases';

/** `count` moves bouncing between the first and the last of `layers` layers, from `at`. */
function bounce(layers, at, count) {
  const keys = [];
  let direction = at === layers - 1 ? -1 : 1;
  for (let i = 0; i < count && layers > 1; i++) {
    if (at + direction < 0 || at + direction >= layers) direction = -direction;
    at += direction;
    keys.push(direction > 0 ? 'Down' : 'Up');
  }
  return { keys, at };
}

/** Layer moves in dive's default view, then in the aggregated one (ctrl+a), then moves down the aggregated tree. */
function movePlan(layers, moves) {
  const thisLayer = bounce(layers, 0, moves);
  const aggregated = bounce(layers, thisLayer.at, moves);
  return [
    { label: CASES[0], keys: thisLayer.keys },
    { keys: ['C-a'] },
    { label: CASES[1], keys: aggregated.keys },
    { keys: ['Tab'] },
    { label: CASES[2], keys: Array(moves).fill('Down') },
  ];
}

/** Nearest rank: the value that `share` of the values are at or below. */
const percentile = (values, share) => [...values].sort((a, b) => a - b)[Math.ceil(share * values.length) - 1];
const ms = (value) => `${value.toFixed(1)}`;

/** Median, 95th percentile and slowest of some moves, and which move of its session's case the slowest was. */
function latencyOf(moves) {
  const times = moves.map((v) => v.ms);
  const slowest = moves.reduce((a, b) => (b.ms > a.ms ? b : a));
  const endToEnd = moves.map((v) => v.endToEndMs);
  return { median: median(times), p95: percentile(times, 0.95), max: slowest.ms, slowestNth: slowest.nth,
    endToEndMedian: median(endToEnd), endToEndMax: Math.max(...endToEnd) };
}

/**
 * Runs `ctx.runs` explorer sessions per image, round-robin. images: [{ key, label, tsdiveArgs,
 * layers }], each key's `-decompress` row being the anchor. Returns the first-screen rows (as
 * summarise makes them), the latency table and the targets.
 */
export async function explorerRows(ctx, images) {
  const moves = Math.round(ctx.positiveEnv('BENCH_TUI_MOVES', 20));
  const server = tmuxServer();
  const measured = images.map((image) => ({ image, runs: [], faults: [], moves: [], pressures: [] }));
  try {
    for (let round = 1; round <= ctx.runs; round++) {
      for (const m of measured) {
        const { key, tsdiveArgs, layers } = m.image;
        const session = await tuiSession(server, { tsdiveBin: ctx.tsdiveBin, args: tsdiveArgs, dir: join(ctx.work, key, 'tui'), name: `${key}-${round}`,
          plan: movePlan(layers, moves) });
        m.runs.push(session.firstScreen);
        m.faults.push(...session.faults);
        m.moves.push(...session.moves);
        if (session.movesPressure !== null) m.pressures.push(session.movesPressure);
        const slowest = session.moves.length ? Math.max(...session.moves.map((v) => v.ms)) : 0;
        ctx.progress(`tsdive explorer ${m.image.label} run ${round}/${ctx.runs}: first screen ${session.firstScreen.wallSeconds.toFixed(2)} s, `
          + `slowest of ${session.moves.length} moves ${ms(slowest)} ms`);
      }
    }
  } finally {
    server.close();
  }
  const rows = measured.map((m) => summarise({ key: `${m.image.key}-tui`, tool: 'tsdive', anchor: `${m.image.key}-decompress`,
    caseName: `${m.image.label}: explorer first screen (tmux 160x45; CPU and RSS up to it)`, runs: m.runs, faults: m.faults }));
  const latency = [
    '| image | selection move | moves | median ms | 95th percentile ms | max ms (which move) | median / max ms from `tmux send-keys` | CPU pressure |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const targets = [];
  for (const m of measured) {
    const pressure = m.pressures.length ? `${(median(m.pressures) * 100).toFixed(0)}%` : 'n/a';
    for (const label of CASES) {
      const of = m.moves.filter((v) => v.label === label);
      if (of.length === 0) {
        latency.push(`| ${m.image.label} | ${label} | 0 (one layer) | - | - | - | - | - |`);
        continue;
      }
      const l = latencyOf(of);
      latency.push(`| ${m.image.label} | ${label} | ${of.length} | ${ms(l.median)} | ${ms(l.p95)} | ${ms(l.max)} (move ${l.slowestNth}) | `
        + `${ms(l.endToEndMedian)} / ${ms(l.endToEndMax)} | ${pressure} |`);
      targets.push({ label: `tsdive (#5): explorer on ${m.image.label}: ${label}: selection moves < ${MAX_MOVE_MS} ms (95th percentile)`,
        measured: `${ms(l.p95)} ms (median ${ms(l.median)}, max ${ms(l.max)})`, met: l.p95 < MAX_MOVE_MS });
    }
  }
  const extra = `Explorer selection moves: \`tsdive IMAGE\` in a 160x45 tmux session, ${moves} moves per case and run, `
    + `${PLAN_NOTE}. Times from tsdive's TSDIVE_TIMING file: from ink handing over the key to the new frame being written; `
    + 'the next column adds sending the key through tmux; CPU pressure is over the moves of a session (median of the runs). '
    + 'The moves start with the first screen, which comes once the first layer is analysed, so the first second or so of them '
    + 'share the CPU with the analysis of the other layers. '
    + 'The target is on the 95th percentile: the slowest moves are mostly the first layer change after start (code V8 has not '
    + 'compiled yet) and moves that a garbage collection or another process on the machine held up; the max column shows them.'
    + `\n\n${latency.join('\n')}`;
  return { rows, extra, targets };
}
