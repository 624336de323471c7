import { appendFileSync } from 'node:fs';
import type { Key } from 'ink';

/**
 * TSDIVE_TIMING=FILE: the explorer appends one JSON line per event to FILE, so
 * `npm run bench` can time it from outside without reading the screen:
 * - `{"event":"first-frame","at":…,"sinceStartMs":…,"cpuMs":…,"maxRssKb":…}` once, when
 *   the first screen has been written;
 * - `{"event":"key","key":"down","pane":"layers","mode":"layer","receivedAt":…,"renderedAt":…,"ms":…}`
 *   for each key that led to a new frame: from ink handing the key over to that frame
 *   being written.
 * Times are milliseconds since the epoch with sub-millisecond precision
 * (performance.timeOrigin + performance.now()), comparable across processes.
 */
export interface RenderTiming {
  keyReceived(key: KeyEvent): void;
  /** Called by ink after each render, before the frame is written. */
  frameRendered(): void;
}

export interface KeyEvent {
  key: string;
  pane: string;
  mode: string;
}

export const TIMING_ENV = 'TSDIVE_TIMING';

const now = () => performance.timeOrigin + performance.now();

/** A short name for the key, as the timing file reports it. */
export function keyName(input: string, key: Key): string {
  const named = (['upArrow', 'downArrow', 'leftArrow', 'rightArrow', 'pageUp', 'pageDown', 'home', 'end', 'tab', 'return', 'escape'] as const)
    .find((name) => key[name]);
  if (named) return named.replace(/Arrow$/, '');
  return key.ctrl ? `ctrl+${input}` : input;
}

/** The timing recorder for `file`, or undefined when timing is off. */
export function renderTimingTo(file: string | undefined): RenderTiming | undefined {
  if (!file) return undefined;
  const write = (record: object) => appendFileSync(file, `${JSON.stringify(record)}\n`);
  let firstFrameWritten = false;
  let pending: (KeyEvent & { receivedAt: number })[] = [];
  return {
    keyReceived(key) {
      pending.push({ ...key, receivedAt: now() });
    },
    frameRendered() {
      const keys = pending;
      pending = [];
      const first = !firstFrameWritten;
      firstFrameWritten = true;
      if (!first && keys.length === 0) return;
      // ink writes the frame right after this callback returns, in the same task.
      queueMicrotask(() => {
        const renderedAt = now();
        if (first) {
          const cpu = process.cpuUsage();
          write({ event: 'first-frame', at: renderedAt, sinceStartMs: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000,
            maxRssKb: process.resourceUsage().maxRSS });
        }
        for (const k of keys) write({ event: 'key', ...k, renderedAt, ms: renderedAt - k.receivedAt });
      });
    },
  };
}
