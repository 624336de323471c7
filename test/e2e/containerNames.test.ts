import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { busyboxContainerRoot } from '../helpers/containerRoot.js';
import { pathExists } from '../helpers/pathExists.js';

const { store, ts, tsOk } = busyboxContainerRoot({ runc: 'runc', conmon: 'conmon' });

const inUse = (name: string) => new RegExp(`^tsbuild: error: the container name "${name}" is already in use by [0-9a-f]{12}; remove it or choose another name\\n$`);

describe('container names', () => {
  it('a name is free again once its container is removed, by rm or by --rm', async () => {
    const id = (await tsOk('run', '-d', '--name', 'reused', '--network', 'none', 'busybox', 'true')).stdout.trim();
    await tsOk('wait', id);
    expect(await ts('run', '--name', 'reused', '--network', 'none', 'busybox', 'true')).toMatchObject({ code: 125, stderr: expect.stringMatching(inUse('reused')) });
    await tsOk('rm', 'reused');
    await tsOk('run', '--rm', '--name', 'reused', '--network', 'none', 'busybox', 'true');
    await tsOk('run', '--rm', '--name', 'reused', '--network', 'none', 'busybox', 'true');
    const again = (await tsOk('run', '-d', '--name', 'reused', '--network', 'none', 'busybox', 'true')).stdout.trim();
    expect((JSON.parse((await tsOk('container', 'inspect', 'reused')).stdout) as { Id: string }[])[0]!.Id).toBe(again);
    await tsOk('rm', '-f', again);
  });

  it('of runs started at once under one name, exactly one gets it', async () => {
    const results = await Promise.all(Array.from({ length: 4 }, () => ts('run', '-d', '--name', 'contested', '--network', 'none', 'busybox', 'true')));
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    for (const r of results.filter((r) => r.code !== 0)) expect(r).toMatchObject({ code: 125, stderr: expect.stringMatching(inUse('contested')) });
    await tsOk('rm', '-f', 'contested');
  });

  it('a name whose container went without it (a crash between the two) is free', async () => {
    await tsOk('run', '--name', 'orphaned', '--network', 'none', 'busybox', 'true');
    const names = join(store.root, 'containers', '.names');
    const held = await readFile(join(names, 'orphaned'), 'utf8');
    await tsOk('rm', 'orphaned');
    // What a crash after the container's directory went and before its name did leaves behind.
    await writeFile(join(names, 'orphaned'), held);
    const next = (await tsOk('run', '-d', '--name', 'orphaned', '--network', 'none', 'busybox', 'true')).stdout.trim();
    expect(next).not.toBe(held);
    await tsOk('rm', '-f', next);
    expect(await readdir(names)).not.toContain('orphaned');
  });

  it('a store from before name files gets them from its records: their names stay taken', async () => {
    const id = (await tsOk('run', '-d', '--name', 'older', '--network', 'none', 'busybox', 'true')).stdout.trim();
    await tsOk('wait', id);
    await rm(join(store.root, 'containers', '.names'), { recursive: true });
    expect(await ts('run', '--name', 'older', '--network', 'none', 'busybox', 'true')).toMatchObject({ code: 125, stderr: expect.stringMatching(inUse('older')) });
    expect(await pathExists(join(store.root, 'containers', '.names', 'older'))).toBe(true);
    await tsOk('rm', 'older');
    await tsOk('run', '--rm', '--name', 'older', '--network', 'none', 'busybox', 'true');
  });

  it('a name longer than a file name may be is refused by run and found by no other command', async () => {
    const long = 'a'.repeat(300);
    expect(await ts('run', '--name', long, '--network', 'none', 'busybox', 'true')).toMatchObject({
      code: 125, stderr: `tsbuild: error: invalid container name "${long}": longer than a file name may be\n`,
    });
    expect(await ts('rm', long)).toMatchObject({ code: 125, stderr: `tsbuild: error: no such container: ${long}\n` });
  });
});
