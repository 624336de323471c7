import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { busyboxContainerRoot } from '../helpers/containerRoot.js';
import { pathExists } from '../helpers/pathExists.js';
import { run } from '../helpers/tools.js';

const { store, ts, tsOk } = busyboxContainerRoot({ runc: 'runc', conmon: 'conmon' }, async () => {
  if (!(await pathExists('/usr/share/containers/seccomp.json'))) await run('apt-get', ['install', '-y', 'golang-github-containers-common']);
});

/** More than `ps` and a new container's name check read side by side at once (CONTAINERS_AT_ONCE is 64). */
const COPIES = 150;

describe('a store of many containers', () => {
  it(`ps -a lists all ${COPIES + 1} newest first, and a new container may not take any of their names`, async () => {
    const id = (await tsOk('run', '-d', '--name', 'original', '--network', 'none', 'busybox', 'true')).stdout.trim();
    expect((await tsOk('wait', id)).stdout).toBe('0\n');
    // Copies of an exited container's record and state under new IDs, names and creation times: the store as many `run`s leave it
    // (whose names come from the records, as in a store from before name files).
    const containers = join(store.root, 'containers');
    await rm(join(containers, '.names'), { recursive: true });
    const record = JSON.parse(await readFile(join(containers, id, 'container.json'), 'utf8')) as { id: string; name: string; created: string };
    const copies = Array.from({ length: COPIES }, (_, i) => ({
      id: (i + 1).toString(16).padStart(64, 'c'),
      name: `copy-${i}`,
      created: new Date(Date.parse(record.created) + (i + 1) * 1000).toISOString(),
    }));
    for (const copy of copies) {
      await mkdir(join(containers, copy.id));
      await cp(join(containers, id, 'state.json'), join(containers, copy.id, 'state.json'));
      await writeFile(join(containers, copy.id, 'container.json'), JSON.stringify({ ...record, ...copy }));
    }
    const listed = JSON.parse((await tsOk('ps', '-a', '--format', 'json')).stdout) as { Id: string; Names: string[] }[];
    expect(listed.map((c) => [c.Names[0], c.Id])).toEqual([...copies.map((c) => [c.name, c.id]).reverse(), ['original', id]]);
    expect(await ts('run', '--name', 'copy-3', '--network', 'none', 'busybox', 'true')).toMatchObject({
      code: 125,
      stderr: `tsbuild: error: the container name "copy-3" is already in use by ${copies[3]!.id.slice(0, 12)}; remove it or choose another name\n`,
    });
  });
});
