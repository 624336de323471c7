import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDebian } from '../helpers/debianBase.js';
import { requireTools, run } from '../helpers/tools.js';
import { REPO_ROOT, tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;
const id = `tsbuild-nginx-${process.pid}`;

beforeAll(async () => {
  await requireTools({ runc: 'runc', curl: 'curl', nsenter: 'util-linux' });
  root = await dirs.make();
  await importDebian(root);
}, 600_000);

afterAll(async () => {
  await run('runc', ['delete', '--force', id]).catch(() => undefined);
  await dirs.cleanup();
});

async function containerPid(): Promise<number> {
  const { stdout } = await run('runc', ['state', id]);
  return (JSON.parse(stdout) as { pid: number }).pid;
}

/** curl from inside the container's own network namespace, retried while nginx starts. */
async function fetchInside(pid: number): Promise<string> {
  let last: unknown;
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const { stdout } = await run('nsenter', ['-t', String(pid), '-n', 'curl', '-sf', 'http://127.0.0.1/']);
      return stdout;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw last;
}

describe('samples/nginx on a debootstrap Debian base', () => {
  it('builds with apt-get under runc, and the bundle serves the page in its own network namespace', async () => {
    const built = await tsbuild(['--root', root, '-t', 'nginx', join(REPO_ROOT, 'samples/nginx')]);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    expect(built.stdout).toMatch(/Setting up nginx/);

    const bundle = join(await dirs.make(), 'bundle');
    expect((await tsbuild(['--root', root, 'bundle', 'nginx', bundle])).code).toBe(0);
    const log = await open(join(bundle, '..', 'nginx.log'), 'w');
    const runc = spawn('runc', ['run', '--detach', '--bundle', bundle, id], { stdio: ['ignore', log.fd, log.fd] });
    expect(await new Promise((resolve) => runc.on('close', resolve))).toBe(0);
    await log.close();

    const pid = await containerPid();
    const page = await fetchInside(pid);
    expect(page).toContain('Served by nginx, built by tsbuild');
    // Its own network namespace: the page is not reachable from the host's.
    const { stdout: hostNs } = await run('readlink', ['/proc/self/ns/net']);
    const { stdout: containerNs } = await run('readlink', [`/proc/${pid}/ns/net`]);
    expect(containerNs).not.toBe(hostNs);
  }, 900_000);
});
