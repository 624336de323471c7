import { link, open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { lstatIfExists, readTextIfExists } from './ifExists.js';
import { withNoSpacePath } from './noSpaceLeft.js';
import { currentProcess, formatProcessIdentity, parseProcessIdentity, processAlive } from './processIdentity.js';

/** How old a takeover claim must be to count as left by a waiter that died taking over (a takeover takes microseconds). */
const STALE_CLAIM_MS = 10_000;

/**
 * Removes a lock whose owner is gone; false when another waiter is doing it.
 * Two waiters may both find the owner dead, and the second must not remove
 * the lock the first has taken since. So a waiter first claims the takeover:
 * it hard-links the lock file to `<lock>.takeover`, which only one can do at
 * a time. Only a claim holder removes a dead owner's lock and nobody can
 * create one while it is there, so if the file it linked is the dead
 * owner's, that file is still the lock, and it goes. The lock path is never
 * empty while someone holds the lock.
 */
async function takeOver(lockPath: string, deadText: string): Promise<boolean> {
  const claim = `${lockPath}.takeover`;
  try {
    await link(lockPath, claim);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Released meanwhile: nothing left to take over.
    if (code === 'ENOENT') return true;
    if (code !== 'EEXIST') throw e;
    const held = await lstatIfExists(claim);
    if (held && Date.now() - held.ctimeMs > STALE_CLAIM_MS) await rm(claim, { force: true });
    return false;
  }
  try {
    if ((await readFile(claim, 'utf8')) === deadText) await rm(lockPath, { force: true });
  } finally {
    await rm(claim, { force: true });
  }
  return true;
}

/**
 * The waiters of this process, per lock path: only one at a time contends
 * for the file, the others wait in memory (parallel pulls and layer writes of
 * one command would otherwise poll it together).
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
      if (owner && !processAlive(owner) && (await takeOver(lockPath, text))) continue;
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
