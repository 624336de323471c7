import { afterAll, beforeAll } from 'vitest';
import { importBusybox } from './busyboxImage.js';
import { tempDirs } from './tempDirs.js';
import { requireTools } from './tools.js';
import { tsbuild, tsbuildOk, type CliResult } from './tsbuildCli.js';

/** Every container of a store root, running or not, removed (a test file's afterAll). */
export async function removeAllContainers(root: string): Promise<void> {
  const ids = (await tsbuild(['--root', root, 'ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await tsbuild(['--root', root, 'rm', '-f', ...ids]);
}

/** The CLI on one store root, named once the root exists (in beforeAll): `ts` returns the result, `tsOk` insists on success. */
export function cliOnRoot(root: () => string): { ts: (...args: string[]) => Promise<CliResult>; tsOk: (...args: string[]) => Promise<CliResult> } {
  return {
    ts: (...args) => tsbuild(['--root', root(), ...args]),
    tsOk: (...args) => tsbuildOk(['--root', root(), ...args]),
  };
}

/**
 * A test file's store root with busybox imported, for running containers: made in beforeAll once
 * `tools` are there (and `prepare` has run), its containers removed and the root deleted in afterAll.
 */
export function busyboxContainerRoot(tools: Record<string, string>, prepare?: () => Promise<void>) {
  const dirs = tempDirs();
  let root: string | undefined;
  beforeAll(async () => {
    await requireTools(tools);
    await prepare?.();
    root = await dirs.make();
    await importBusybox(root);
  });
  afterAll(async () => {
    if (root) await removeAllContainers(root);
    await dirs.cleanup();
  });
  const store = {
    get root(): string {
      if (!root) throw new Error('the container root is made in beforeAll');
      return root;
    },
  };
  return { store, ...cliOnRoot(() => store.root) };
}
