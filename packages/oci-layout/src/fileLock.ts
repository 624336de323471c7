import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { readTextIfExists } from './ifExists.js';
import { withNoSpacePath } from './noSpaceLeft.js';
import { nodeCrypto } from './onDemandBuiltins.js';
import { currentProcess, formatProcessIdentity, parseProcessIdentity, processAlive } from './processIdentity.js';

/**
 * Removes a lock whose owner is gone. Two waiters may both find it dead: the
 * one that comes second must not remove the lock the first has taken since.
 * So the file is moved aside atomically and only dropped if it is still the
 * dead owner's; a live lock moved by mistake is put back.
 */
async function takeOver(lockPath: string, deadText: string): Promise<void> {
  const aside = `${lockPath}.stale-${nodeCrypto().randomBytes(6).toString('hex')}`;
  try {
    await rename(lockPath, aside);
  } catch (e) {
    // Someone else moved or released it first.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    if ((await readFile(aside, 'utf8')) !== deadText) {
      await link(aside, lockPath).catch((e: NodeJS.ErrnoException) => {
        // A third process took the lock within the two system calls between: it and the owner we
        // moved aside both hold it now. That takes a dead owner and three waiters at once.
        if (e.code !== 'EEXIST') throw e;
      });
    }
  } finally {
    await rm(aside, { force: true });
  }
}

/**
 * The waiters of this process, per lock path. A dead owner's lock taken over
 * by two waiters at once moves a live lock aside for a moment (see takeOver),
 * and a third that comes just then enters too: so within one process, where
 * most waiters are (parallel pulls and layer writes of one command), only one
 * at a time contends for the file. Across processes that race still takes a
 * dead owner and three waiters at once.
 */
const waitersInProcess = new Map<string, Promise<void>>();

/**
 * Runs `fn` while holding an exclusive lock file. The file holds the owner's
 * PID and start time so that a lock left by a killed process (SIGKILL leaves no chance to
 * clean up) is recognised and taken over instead of blocking forever.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const ahead = waitersInProcess.get(lockPath);
  let done = () => {};
  const mine = new Promise<void>((resolve) => (done = resolve));
  const queue = (ahead ?? Promise.resolve()).then(() => mine);
  waitersInProcess.set(lockPath, queue);
  try {
    if (ahead) await inTime(ahead, deadline, lockPath);
    return await holdingFile(lockPath, fn, deadline);
  } finally {
    done();
    if (waitersInProcess.get(lockPath) === queue) waitersInProcess.delete(lockPath);
  }
}

/** `ahead`, unless the deadline comes first (a lock taken again inside itself must fail as it did, not hang). */
async function inTime(ahead: Promise<void>, deadline: number, lockPath: string): Promise<void> {
  const timer = new AbortController();
  try {
    await Promise.race([ahead, sleep(Math.max(0, deadline - Date.now()), undefined, { signal: timer.signal }).then(() => {
      throw new Error(`timed out waiting for lock ${lockPath} (held by this process, pid ${process.pid})`);
    })]);
  } finally {
    timer.abort();
  }
}

async function holdingFile<T>(lockPath: string, fn: () => Promise<T>, deadline: number): Promise<T> {
  let wait = 5;
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx');
      try {
        await fh.writeFile(formatProcessIdentity(currentProcess()));
      } catch (writeError) {
        // A lock file without an owner (a full disk) would make every other process wait for it.
        await fh.close();
        await rm(lockPath, { force: true });
        throw withNoSpacePath(writeError, lockPath);
      }
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Undefined when the lock was released meanwhile.
      const text = await readTextIfExists(lockPath);
      if (text === undefined) continue;
      const owner = parseProcessIdentity(text);
      if (owner && !processAlive(owner)) {
        await takeOver(lockPath, text);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockPath} (held by pid ${owner?.pid ?? 'unknown'})`);
      await sleep(wait);
      wait = Math.min(wait * 2, 100);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}
