import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TSBUILD_BIN, tsbuild } from '../helpers/tsbuildCli.js';

/**
 * `npm run build` bundles the CLI (scripts/bundleCli.mjs) and bin/tsbuild.js runs the bundle
 * while it is at least as new as what tsc emitted; after a `tsc -b` alone it runs tsc's modules.
 */

const run = promisify(execFile);

describe('bin/tsbuild.js on a workspace laid out like ours', () => {
  let root: string;
  const bin = () => join(root, 'packages/builder/bin/tsbuild.js');
  const buildInfos = ['builder', 'oci-layout', 'registry'].map((p) => `packages/${p}/tsconfig.tsbuildinfo`);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tsbuild-bin-'));
    await mkdir(dirname(bin()), { recursive: true });
    await copyFile(TSBUILD_BIN, bin());
    for (const [file, says] of [['dist/bundle/main.js', 'bundle'], ['dist/cli/main.js', 'modules']] as const) {
      const path = join(root, 'packages/builder', file);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, `export async function main(argv) { process.stdout.write('${says} ' + argv.slice(2).join(' ')); return 3; }\n`);
    }
    for (const info of buildInfos) {
      await mkdir(dirname(join(root, info)), { recursive: true });
      await writeFile(join(root, info), '{}');
    }
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  /** Sets the bundle's age against the tsbuildinfo files, in seconds from now. */
  async function ages(bundle: number, infos: number[]): Promise<void> {
    const at = (seconds: number) => new Date(Date.now() + seconds * 1000);
    await utimes(join(root, 'packages/builder/dist/bundle/main.js'), at(bundle), at(bundle));
    await Promise.all(buildInfos.map((info, i) => utimes(join(root, info), at(infos[i]!), at(infos[i]!))));
  }

  async function which(): Promise<string> {
    const r = await run(process.execPath, [bin(), 'images', '-q']).catch((e: { code: number; stdout: string }) => e);
    expect(r).toMatchObject({ code: 3 });
    return (r as { stdout: string }).stdout;
  }

  it('runs the bundle when it is newer than every package tsc built', async () => {
    await ages(-10, [-60, -60, -60]);
    expect(await which()).toBe('bundle images -q');
  });

  it("runs tsc's modules when any package was built after the bundle", async () => {
    for (const newer of [0, 1, 2]) {
      await ages(-10, [-60, -60, -60].map((age, i) => (i === newer ? -5 : age)));
      expect(await which()).toBe('modules images -q');
    }
  });

  it("runs tsc's modules when a package's build info is missing", async () => {
    await ages(-10, [-60, -60, -60]);
    await rm(join(root, buildInfos[1]!));
    expect(await which()).toBe('modules images -q');
    await writeFile(join(root, buildInfos[1]!), '{}');
  });
});

describe('the workspace as npm test built it', () => {
  it('runs the CLI from the bundle', async () => {
    // A failing command's stack trace (TSBUILD_DEBUG) names the files the CLI runs from.
    const root = await mkdtemp(join(tmpdir(), 'tsbuild-bundle-store-'));
    const r = await tsbuild(['--root', root, 'inspect', 'no-such-image:for-the-bundle-test'], { env: { TSBUILD_DEBUG: '1' } });
    await rm(root, { recursive: true, force: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\/packages\/builder\/dist\/bundle\/[\w-]+\.js:\d+/);
    expect(r.stderr).not.toContain('/dist/cli/');
  });
});
