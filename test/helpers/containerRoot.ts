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
