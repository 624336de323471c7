// The explorer in a real terminal, timed: `tsdive IMAGE` inside a detached tmux session of fixed
// size, keys sent with `tmux send-keys`, times read from the file tsdive's TSDIVE_TIMING hook
// writes (packages/inspect-tui/src/tui/renderTiming.ts), the screen checked with capture-pane.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuPressure, cpuStallMicros } from './measureCommand.mjs';

const COLUMNS = 160;
const ROWS = 45;
/** Longer than ink's frame throttle (30 fps), so each key gets a frame of its own, as keys a person presses do. */
const PAUSE_BETWEEN_KEYS_MS = 100;
const FIRST_SCREEN_TIMEOUT_MS = 300_000;
const KEY_TIMEOUT_MS = 30_000;

const now = () => performance.timeOrigin + performance.now();
const quote = (arg) => `'${arg.replace(/'/g, `'\\''`)}'`;

/** A tmux server of the bench's own (never the user's), with one idle session keeping it up so
 * that starting a session does not include starting the server. */
export function tmuxServer() {
  const socket = `tsdive-bench-${process.pid}`;
  const tmux = (...args) => {
    const result = spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`tmux ${args.join(' ')} exited with ${result.status}: ${result.stderr}`);
    return result.stdout;
  };
  tmux('new-session', '-d', '-s', 'keep-alive', 'sleep', '86400');
  return {
    tmux,
    killSession: (name) => spawnSync('tmux', ['-L', socket, 'kill-session', '-t', name]),
    close() {
      spawnSync('tmux', ['-L', socket, 'kill-server']);
      rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid()}`, socket), { force: true });
    },
  };
}

/** The events tsdive has written so far (a line being written is left for the next read). */
function timingEvents(file) {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** The right half of the screen: the file tree pane. */
const treePaneOf = (screen) => screen.split('\n').map((l) => [...l].slice(Math.floor(COLUMNS / 2) + 1).join('')).join('\n');

/**
 * The first screen in full: the layers pane, the details panes, and rows of the first layer's tree.
 * It comes once the first layer is analysed: the image's figures may still say "analysing…".
 */
const fullScreen = (screen) => screen.includes('Layers') && screen.includes('Layer Details') && screen.includes('Image Details')
  && /[├└]── /.test(treePaneOf(screen));

/**
 * One session: spawn until the first frame, then the given key sequences, then `q`.
 * `plan` is a list of steps { keys: [tmux key names], label? }: every key waits for its frame
 * (or for `timeout` when it changes nothing visible); keys of a step with a label are timed
 * moves. Resolves to { firstScreen: { wallSeconds, cpuSeconds, peakRssBytes, cpuPressure },
 * moves: [{ label, nth (of the step's keys, from 1), ms, endToEndMs }], movesPressure (CPU pressure while moving, or null), faults: [] }.
 */
export async function tuiSession(server, { tsdiveBin, args, dir, name, plan }) {
  mkdirSync(dir, { recursive: true });
  const timingFile = join(dir, `${name}.timing.jsonl`);
  const exitFile = join(dir, `${name}.exit`);
  rmSync(timingFile, { force: true });
  rmSync(exitFile, { force: true });
  const faults = [];
  const screen = () => server.tmux('capture-pane', '-p', '-t', name);
  const command = `env -u CI TSDIVE_TIMING=${quote(timingFile)} node ${[tsdiveBin, ...args].map(quote).join(' ')}; echo $? > ${quote(exitFile)}; sleep 86400`;

  const stallBefore = cpuStallMicros();
  const spawnedAt = now();
  server.tmux('new-session', '-d', '-s', name, '-x', String(COLUMNS), '-y', String(ROWS), 'sh', '-c', command);
  try {
    let first;
    while (!(first = timingEvents(timingFile).find((e) => e.event === 'first-frame'))) {
      if (existsSync(exitFile)) throw new Error(`tsdive ${args.join(' ')} ended before its first screen:\n${screen()}`);
      if (now() - spawnedAt > FIRST_SCREEN_TIMEOUT_MS) throw new Error(`tsdive ${args.join(' ')}: no first screen after ${FIRST_SCREEN_TIMEOUT_MS} ms:\n${screen()}`);
      await sleep(10);
    }
    const stallAfter = cpuStallMicros();
    const wallSeconds = (first.at - spawnedAt) / 1000;
    const firstScreen = {
      wallSeconds,
      cpuSeconds: first.cpuMs / 1000,
      peakRssBytes: first.maxRssKb * 1024,
      cpuPressure: cpuPressure(stallBefore, stallAfter, wallSeconds),
    };
    // The terminal shows the frame a moment after tsdive wrote it.
    const shownBy = now() + 2000;
    while (!fullScreen(screen())) {
      if (now() > shownBy) {
        faults.push('first frame not a full screen');
        break;
      }
      await sleep(10);
    }

    const moves = [];
    const movesStall = cpuStallMicros();
    const movesFrom = now();
    for (const step of plan) {
      for (const [nth, key] of step.keys.entries()) {
        await sleep(PAUSE_BETWEEN_KEYS_MS);
        const seen = timingEvents(timingFile).length;
        const sentAt = now();
        server.tmux('send-keys', '-t', name, key);
        let event;
        while (!(event = timingEvents(timingFile).slice(seen).find((e) => e.event === 'key'))) {
          if (now() - sentAt > KEY_TIMEOUT_MS) throw new Error(`tsdive ${args.join(' ')}: no frame after ${key} in ${KEY_TIMEOUT_MS} ms:\n${screen()}`);
          await sleep(2);
        }
        if (step.label) moves.push({ label: step.label, nth: nth + 1, ms: event.ms, endToEndMs: event.renderedAt - sentAt });
      }
    }

    const movesStallAfter = cpuStallMicros();
    const movesPressure = cpuPressure(movesStall, movesStallAfter, (now() - movesFrom) / 1000);
    server.tmux('send-keys', '-t', name, 'q');
    const quitBy = now() + 10_000;
    while (!existsSync(exitFile) || !readFileSync(exitFile, 'utf8').endsWith('\n')) {
      if (now() > quitBy) throw new Error(`tsdive ${args.join(' ')} did not quit on q:\n${screen()}`);
      await sleep(10);
    }
    const code = readFileSync(exitFile, 'utf8').trim();
    if (code !== '0') faults.push(`exit code ${code} after q`);
    return { firstScreen, moves, movesPressure, faults };
  } finally {
    server.killSession(name);
  }
}
