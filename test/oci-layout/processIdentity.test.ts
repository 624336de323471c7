import { writeFile } from 'node:fs/promises';
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

describe('a lock taken again inside itself', () => {
  it('times out in one line instead of waiting forever for itself', async () => {
    const lock = join(await dirs.make(), 'index.json.lock');
    const nested = withFileLock(lock, () => withFileLock(lock, async () => 'inner', 300), 10_000);
    await expect(nested).rejects.toThrow(/^timed out waiting for lock .*index\.json\.lock \(held by this process, pid \d+\)$/);
    expect(await withFileLock(lock, async () => 'free again', 1000)).toBe('free again');
  });
});
