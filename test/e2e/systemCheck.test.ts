import { spawn } from 'node:child_process';
import { appendFile, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { tsbuild, tsbuildOk as ok } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
let root: string;
let scratchCtx: string;
let runCtx: string;

const check = (...extra: string[]) => tsbuild(['--root', root, 'system', 'check', ...extra]);

async function layerOf(image: string): Promise<string> {
  const inspected = JSON.parse((await ok(['--root', root, 'inspect', image])).stdout) as { manifest: { layers: { digest: string }[] } };
  return inspected.manifest.layers.at(-1)!.digest;
}

/** A PID that certainly names no process now: a child that has exited. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('true');
    child.on('error', reject);
    child.on('close', () => resolve(child.pid!));
  });
}

beforeAll(async () => {
  root = await dirs.make();
  await importBusybox(root);
  scratchCtx = await dirs.make();
  await writeFile(join(scratchCtx, 'data.txt'), 'some data\n');
  await writeFile(join(scratchCtx, 'Dockerfile'), 'FROM scratch\nCOPY data.txt /\n');
  await ok(['--root', root, '-q', '-t', 'plain', scratchCtx]);
  runCtx = await dirs.make();
  await writeFile(join(runCtx, 'Dockerfile'), 'FROM busybox\nRUN mkdir -p /made && echo hi > /made/by-run && echo x > /made/other\nRUN echo second > /second\n');
  await ok(['--root', root, '-q', '-t', 'withrun', runCtx]);
});

afterAll(() => dirs.cleanup());

describe('tsbuild system check', () => {
  it('passes on a store that is whole, printing nothing', async () => {
    const r = await check();
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
  });

  it('finds a corrupted blob, names the image that needs it, and --repair says it cannot save that image', async () => {
    const layer = await layerOf('plain');
    const path = join(root, 'oci', 'blobs', 'sha256', layer.slice(7));
    const bytes = await readFile(path);
    bytes[bytes.length >> 1] ^= 0xff;
    await writeFile(path, bytes);

    const r = await check();
    expect(r.code).toBe(125);
    expect(r.stdout).toContain(`blob ${layer} is damaged`);
    expect(r.stdout).toContain(`localhost/plain:latest: its layer ${layer} is damaged`);
    expect(r.stderr).toMatch(/^tsbuild: error: damage detected in the store .*\n$/);

    const repaired = await check('--repair');
    expect(repaired.stdout).toContain(`repaired: removed damaged blob ${layer}`);
    expect(repaired.stdout).toContain(`not saved: localhost/plain:latest cannot be saved: its layer ${layer} is damaged; pull or build it again`);
    expect(repaired.code).toBe(125);
    expect(repaired.stderr).toContain('still present after repair');

    // Building it again brings the blob back, and the store is whole.
    await ok(['--root', root, '-q', '-t', 'plain', scratchCtx]);
    expect((await check()).code).toBe(0);
  });

  it('--repair removes a damaged blob no image uses', async () => {
    const stray = join(root, 'oci', 'blobs', 'sha256', 'a'.repeat(64));
    await writeFile(stray, 'not what the name says');
    const r = await check();
    expect(r.code).toBe(125);
    expect(r.stdout).toBe(`blob sha256:${'a'.repeat(64)} is damaged: its bytes hash to sha256:${(await import('node:crypto')).createHash('sha256').update('not what the name says').digest('hex')}\n`);
    const repaired = await check('--repair');
    expect(repaired.stdout).toContain(`repaired: removed damaged blob sha256:${'a'.repeat(64)} (no image used it)`);
    expect(repaired.code).toBe(0);
    expect((await check()).code).toBe(0);
  });

  it('finds a snapshot that no longer matches its record; --repair drops it and the next build unpacks it again', async () => {
    const snapshots = join(root, 'cache', 'snapshots');
    let damaged: string | undefined;
    for (const name of await readdir(snapshots)) {
      const file = join(snapshots, name, 'made', 'by-run');
      const found = await readFile(file).then(() => true, (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false;
        throw e;
      });
      if (found) {
        await appendFile(file, 'tampered\n');
        damaged = join(snapshots, name);
      }
    }
    expect(damaged).toBeDefined();
    const r = await check();
    expect(r.code).toBe(125);
    expect(r.stdout).toMatch(new RegExp(`^snapshot ${damaged} does not match its record`, 'm'));

    const repaired = await check('--repair');
    expect(repaired.stdout).toContain(`repaired: removed damaged snapshot ${damaged}`);
    expect(repaired.code).toBe(0);
    expect((await check()).code).toBe(0);

    const rebuilt = await ok(['--root', root, '--no-cache', '-q', '-t', 'withrun2', runCtx]);
    expect(rebuilt.stdout).toMatch(/^sha256:/);
    expect((await check()).code).toBe(0);
  });

  it('finds an unreadable index.json; --repair rebuilds it, keeping every image by digest, and says the names are lost', async () => {
    const indexPath = join(root, 'oci', 'index.json');
    const manifests = (JSON.parse(await readFile(indexPath, 'utf8')) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
    await truncate(indexPath, 20);
    const r = await check();
    expect(r.code).toBe(125);
    expect(r.stdout).toMatch(new RegExp(`^${indexPath} is unreadable: `, 'm'));

    const repaired = await check('--repair');
    expect(repaired.stdout).toContain(`repaired: rebuilt ${indexPath}`);
    expect(repaired.stdout).toContain(`not saved: the image names in ${indexPath} are lost`);
    expect(repaired.code).toBe(0);
    const kept = (JSON.parse(await readFile(indexPath, 'utf8')) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
    for (const digest of manifests) expect(kept).toContain(digest);
    // Nothing a name reached is lost: prune deletes no blob.
    expect((await ok(['--root', root, 'prune'])).stdout).toContain('Deleted 0 blobs');
    expect((await check()).code).toBe(0);
  });

  it('reports a lease and a temp file of a process that is gone; --repair removes them', async () => {
    const pid = await deadPid();
    const lease = join(root, 'leases', `${pid}-deadbeef`);
    const partial = join(root, 'tmp', `.blob-${pid}-0123456789abcdef`);
    await writeFile(lease, `${pid} 12345\n`);
    await writeFile(partial, 'half a blob');
    const r = await check();
    expect(r.code).toBe(125);
    expect(r.stdout).toContain(`${lease} was left by a process that is gone`);
    expect(r.stdout).toContain(`${partial} was left by a process that is gone`);
    const repaired = await check('--repair');
    expect(repaired.code).toBe(0);
    expect(await readdir(join(root, 'leases'))).toEqual([]);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    await rm(join(root, 'leases'), { recursive: true, force: true });
  });
});
