import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach } from 'vitest';

/** Temp directories for one test file; `cleanup` removes them all. */
export function tempDirs() {
  const made: string[] = [];
  return {
    async make(prefix = 'tsbuild-test-'): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      made.push(dir);
      return dir;
    },
    async cleanup(): Promise<void> {
      await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

/**
 * A store root and a build context, both new before each test of the file (`ready` gets them
 * and may fill the context), and the file's other temp directories: all removed after the file.
 */
export function rootAndContextPerTest(ready: (root: string, context: string) => void | Promise<void>): ReturnType<typeof tempDirs> {
  const dirs = tempDirs();
  afterAll(() => dirs.cleanup());
  beforeEach(async () => {
    const root = await dirs.make();
    await ready(root, await dirs.make());
  });
  return dirs;
}
