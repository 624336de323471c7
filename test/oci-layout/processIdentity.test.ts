import { spawn } from 'node:child_process';
import { link, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { currentProcess, LocalStore, parseProcessIdentity, processAlive, withFileLock } from '@tsbuild/oci-layout';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

describe('a process is its PID and its start time', () => {
  it('this process is alive; the same PID with another start time (a reused PID) is not', () => {
    const me = currentProcess();
    expect(me.pid).toBe(process.pid);
    expect(me.startTime).toMatch(/^\d+$/);
    expect(processAlive(me)).toBe(true);
    expect(processAlive({ pid: process.pid, startTime: String(Number(me.startTime) + 1) })).toBe(false);
    expect(processAlive({ pid: 0x3fffffff, startTime: '1' })).toBe(false);
  });

  it('reads what lock and lease files hold', () => {
    expect(parseProcessIdentity(`${process.pid} 42\n`)).toEqual({ pid: process.pid, startTime: '42' });
    expect(parseProcessIdentity('')).toBeUndefined();
    expect(parseProcessIdentity('-3 1')).toBeUndefined();
  });

  it('a lock left by a process whose PID now names another process is taken over', async () => {
    const lock = join(await dirs.make(), 'index.json.lock');
    await writeFile(lock, `${process.pid} 1\n`);
    expect(await withFileLock(lock, async () => 'taken', 2000)).toBe('taken');
  });

  it('a lease of such a process does not keep prune from deleting', async () => {
    const store = await LocalStore.open(await dirs.make());
    await store.lease(async () => {
      expect((await store.leases()).map((l) => l.alive)).toEqual([true]);
      expect((await store.prune()).busy).toEqual([currentProcess()]);
    });
    await writeFile(join(store.root, 'leases', `${process.pid}-0badf00d`), `${process.pid} 1\n`);
    expect((await store.leases()).map((l) => l.alive)).toEqual([false]);
    expect((await store.prune()).busy).toEqual([]);
    expect(await store.leases()).toEqual([]);
  });
});

describe('a lock whose owner died', () => {
  it('is taken over by exactly one of many waiters at a time', async () => {
    const lock = join(await dirs.make(), 'index.json.lock');
    await writeFile(lock, `${process.pid} 1\n`);
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 16 }, () =>
        withFileLock(lock, async () => {
          most = Math.max(most, ++inside);
          await new Promise((resolve) => setImmediate(resolve));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});

/** A node process that waits for `go`, then takes the lock and logs its turn (enter, a few ms, exit) to `log`. */
function contender(lock: string, log: string, go: string): Promise<number | null> {
  const script = `
    import { appendFileSync, existsSync } from 'node:fs';
    import { withFileLock } from '@tsbuild/oci-layout';
    while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 1));
    for (let i = 0; i < 3; i++) {
      await withFileLock(${JSON.stringify(lock)}, async () => {
        appendFileSync(${JSON.stringify(log)}, 'enter ' + process.pid + '\\n');
        await new Promise((r) => setTimeout(r, 2));
        appendFileSync(${JSON.stringify(log)}, 'exit ' + process.pid + '\\n');
      }, 30000);
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', resolve));
}

describe('a lock whose owner died, with waiters in several processes', () => {
  it('is held by one process at a time, and no takeover claim is left', async () => {
    const dir = await dirs.make();
    const lock = join(dir, 'index.json.lock');
    const log = join(dir, 'turns.log');
    const go = join(dir, 'go');
    await writeFile(lock, `${process.pid} 1\n`);
    const children = Array.from({ length: 6 }, () => contender(lock, log, go));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await writeFile(go, '');
    expect(await Promise.all(children)).toEqual(Array(6).fill(0));
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(36);
    for (let i = 0; i < lines.length; i += 2) {
      expect(lines[i]).toMatch(/^enter \d+$/);
      expect(lines[i + 1]).toBe(lines[i]!.replace('enter', 'exit'));
    }
    expect((await readdir(dir)).sort()).toEqual(['go', 'turns.log']);
  });
});

describe('a takeover claim left by a waiter that died taking over', () => {
  it('is dropped once stale, and the dead owner\'s lock taken over', async () => {
    const dir = await dirs.make();
    const lock = join(dir, 'index.json.lock');
    await writeFile(lock, `${process.pid} 1\n`);
    await link(lock, `${lock}.takeover`);
    expect(await withFileLock(lock, async () => 'taken', 30_000)).toBe('taken');
    expect(await readdir(dir)).toEqual([]);
  }, 40_000);
});

describe('a lock taken again inside itself', () => {
  it('times out in one line instead of waiting forever for itself', async () => {
    const lock = join(await dirs.make(), 'index.json.lock');
    const nested = withFileLock(lock, () => withFileLock(lock, async () => 'inner', 300), 10_000);
    await expect(nested).rejects.toThrow(/^timed out waiting for lock .*index\.json\.lock \(held by this process, pid \d+\)$/);
    expect(await withFileLock(lock, async () => 'free again', 1000)).toBe('free again');
  });
});
