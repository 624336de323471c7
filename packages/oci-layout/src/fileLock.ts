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
 * Runs `fn` while holding an exclusive lock file. The file holds the owner's
 * PID and start time so that a lock left by a killed process (SIGKILL leaves no chance to
 * clean up) is recognised and taken over instead of blocking forever.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
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
