import { open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { withNoSpacePath } from './noSpaceLeft.js';
import { currentProcess, formatProcessIdentity, parseProcessIdentity, processAlive } from './processIdentity.js';

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
      const owner = parseProcessIdentity(await readFile(lockPath, 'utf8').catch(() => ''));
      if (owner && !processAlive(owner)) {
        await rm(lockPath, { force: true });
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
