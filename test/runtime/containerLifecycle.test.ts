import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { busyboxContainerRoot } from '../helpers/containerRoot.js';
import { pathExists } from '../helpers/pathExists.js';
import { tsbuild, TSBUILD_BIN } from '../helpers/tsbuildCli.js';

const { store, ts, tsOk } = busyboxContainerRoot({ runc: 'runc', conmon: 'conmon' });

interface Inspected {
  Id: string;
  State: { Status: string; Pid: number; StartedAt: string };
}

async function inspect(ref: string): Promise<Inspected> {
  return (JSON.parse((await tsOk('container', 'inspect', ref)).stdout) as Inspected[])[0]!;
}

describe('restart of a --rm container (docker: the restart does not remove it; --rm still applies to its next exit)', () => {
  it('runs again after restart, and stop then removes it', async () => {
    const id = (await tsOk('run', '-d', '--rm', '--network', 'none', 'busybox', 'sleep', '600')).stdout.trim();
    const before = await inspect(id);
    expect(before.State.Status).toBe('running');

    expect(await ts('restart', '-t', '0', id)).toMatchObject({ code: 0, stdout: `${id}\n` });
    const after = await inspect(id);
    expect(after.State.Status).toBe('running');
    expect(after.State.Pid).not.toBe(before.State.Pid);

    await tsOk('stop', '-t', '0', id);
    expect((await ts('container', 'inspect', id)).code).not.toBe(0);
    expect(await pathExists(join(store.root, 'containers', id))).toBe(false);
  });
});

describe('logs -f across log rotation (--log-opt max-size: conmon replaces the file)', () => {
  it('follows into the new file up to the last line, in order', async () => {
    // Batches of 40 lines (about 4 KiB of log each) a second apart: the 6k log is replaced about every
    // second batch, never twice before the follower, woken by the rename, has moved on.
    const script = 'sleep 1; for b in 1 2 3 4 5 6; do i=0; while [ $i -lt 40 ]; do echo "b$b-$i"; i=$((i+1)); done; sleep 1; done; echo end';
    const id = (await tsOk('run', '-d', '--network', 'none', '--log-opt', 'max-size=6k', 'busybox', 'sh', '-c', script)).stdout.trim();
    const followed = await tsOk('logs', '-f', id);
    const lines = followed.stdout.trim().split('\n');
    expect(lines.at(-1)).toBe('end');
    const order = lines.slice(0, -1).map((l) => {
      const m = /^b(\d)-(\d+)$/.exec(l);
      if (!m) throw new Error(`unexpected log line ${JSON.stringify(l)}`);
      return Number(m[1]) * 100 + Number(m[2]);
    });
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(new Set(order).size).toBe(order.length);
    // The log was rotated: what is left of it no longer starts with the first batch.
    expect((await tsOk('logs', id)).stdout.split('\n')[0]).not.toBe('b1-0');
  });
});

describe("conmon's exit command after its container or its whole store is gone", () => {
  it('ends quietly and makes nothing: no store is made anew where one was deleted', async () => {
    const gone = join(store.root, 'deleted-store');
    const id = 'f'.repeat(64);
    const cleanup = await tsbuild(['--root', gone, 'container', 'cleanup', id]);
    expect(cleanup).toMatchObject({ code: 0, stderr: '' });
    expect(await pathExists(gone)).toBe(false);

    // The store is there, the container is not (removed by `rm -f` before its exit command ran).
    const again = await ts('container', 'cleanup', id);
    expect(again).toMatchObject({ code: 0, stderr: '' });
    expect(await pathExists(join(store.root, 'containers', id))).toBe(false);
  });
});

describe('output piped into a reader that stops early (`| head -1`)', () => {
  /** `tsbuild ARGS | head -1` in bash: what head printed, and tsbuild's stderr and exit status. */
  function intoHead(args: string[]): Promise<{ head: string; stderr: string; status: number }> {
    const script = 'node "$@" 2>/tmp/tsbuild-head-$$.err | head -1; status=${PIPESTATUS[0]}; cat /tmp/tsbuild-head-$$.err >&2; rm -f /tmp/tsbuild-head-$$.err; exit $status';
    return new Promise((resolve) => {
      execFile('bash', ['-c', script, 'bash', TSBUILD_BIN, '--root', store.root, ...args], (e, stdout, stderr) => {
        resolve({ head: stdout, stderr, status: e ? Number((e as { code?: number }).code) : 0 });
      });
    });
  }

  async function gone(ref: string): Promise<boolean> {
    for (let i = 0; i < 100; i++) {
      if ((await ts('container', 'inspect', ref)).code !== 0) return true;
      await sleep(200);
    }
    return false;
  }

  it('run ends as SIGPIPE ends a tool (141), without a stack trace, and its --rm container is still removed', async () => {
    const r = await intoHead(['run', '--rm', '--network', 'none', '--name', 'piped', 'busybox', 'busybox', 'seq', '1', '400000']);
    expect(r).toEqual({ head: '1\n', stderr: '', status: 141 });
    expect(await gone('piped')).toBe(true);
  });

  it('logs ends the same way, and the container is left as it was', async () => {
    await tsOk('run', '--network', 'none', '--name', 'logged', 'busybox', 'busybox', 'seq', '1', '400000');
    const r = await intoHead(['logs', 'logged']);
    expect(r).toEqual({ head: '1\n', stderr: '', status: 141 });
    expect((await inspect('logged')).State.Status).toBe('exited');
  });
});

describe('logs of a big log to a reader that has paused', () => {
  /** Bytes the process has read so far (files included), from /proc. */
  async function bytesRead(pid: number): Promise<number> {
    const io = await readFile(`/proc/${pid}/io`, 'utf8');
    return Number(/^rchar: (\d+)$/m.exec(io)![1]);
  }

  it('reads no further than the reader takes, then gives every line', async () => {
    const lines = 60_000;
    const script = `s=$(printf '%1000s' | tr ' ' a); yes "$s" | head -n ${lines}`;
    // Detached, so the 60 MB pass through conmon into the log and not through a test pipe first.
    const id = (await tsOk('run', '-d', '--network', 'none', 'busybox', 'sh', '-c', script)).stdout.trim();
    expect((await tsOk('wait', id)).stdout).toBe('0\n');
    const child = spawn(process.execPath, [TSBUILD_BIN, '--root', store.root, 'logs', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pause();
    // Until the reading has stood still for half a second: with nobody taking the output, it must stop early.
    let seen = -1;
    for (let i = 0; i < 40; i++) {
      await sleep(500);
      const now = await bytesRead(child.pid!);
      if (now === seen) break;
      seen = now;
    }
    // The log is over 60 MB; the CLI's own code is a few.
    expect(seen).toBeLessThan(20_000_000);
    let got = 0;
    child.stdout.on('data', (c: Buffer) => (got += c.length));
    child.stdout.resume();
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(got).toBe(lines * 1001);
  }, 120_000);
});
