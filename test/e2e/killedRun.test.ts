import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { run } from '../helpers/tools.js';
import { TSBUILD_BIN, tsbuild, tsbuildOk as ok } from '../helpers/tsbuildCli.js';

const dirs = tempDirs();
let root: string;
let context: string;

/** Starts a build and SIGKILLs it once its RUN step has printed `marker` (the command is then inside runc). */
function buildAndKillInRun(marker: string): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSBUILD_BIN, '--root', root, '-t', 'killed', context], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    const watch = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(marker)) child.kill('SIGKILL');
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve(signal));
  });
}

async function mountPoints(): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '');
}

async function runcIds(): Promise<string[]> {
  const { stdout } = await run('runc', ['list', '--format', 'json']);
  return ((JSON.parse(stdout) as { id: string }[] | null) ?? []).map((c) => c.id);
}

/** The records the killed build left: what it held. */
async function leftRecords(): Promise<{ containerId?: string; mounts: string[]; workDir: string }[]> {
  const dir = join(root, 'runs');
  const names = await readdir(dir);
  return Promise.all(names.map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as { containerId?: string; mounts: string[]; workDir: string }));
}

beforeAll(async () => {
  root = await dirs.make();
  await importBusybox(root);
  context = await dirs.make();
  await writeFile(join(context, 'Dockerfile'), 'FROM busybox\nRUN echo in-the-$((1+1))-step && sleep 30\n');
});

afterAll(() => dirs.cleanup());

describe('a build killed inside a RUN', () => {
  for (const [what, args] of [['tsbuild prune', ['prune']], ['the next command that opens the store (images)', ['images']]] as const) {
    it(`leaves a mount and a runc container that ${what} removes`, async () => {
      expect(await buildAndKillInRun('in-the-2-step')).toBe('SIGKILL');
      const records = await leftRecords();
      const held = records.find((r) => r.containerId)!;
      expect(held).toBeDefined();
      // What SIGKILL left: the overlay is still mounted and the container still runs.
      expect(await mountPoints()).toContain(held.mounts[0]);
      expect(await runcIds()).toContain(held.containerId);
      const check = await tsbuild(['--root', root, 'system', 'check']);
      expect(check.code).toBe(125);
      expect(check.stdout).toContain(`is gone and left runc container ${held.containerId}, mount ${held.mounts[0]}`);

      await ok(['--root', root, ...args]);
      expect(await mountPoints()).not.toContain(held.mounts[0]);
      expect(await runcIds()).not.toContain(held.containerId);
      expect(await readdir(join(root, 'runs'))).toEqual([]);
      expect(await readdir(held.workDir).catch((e: NodeJS.ErrnoException) => e.code)).toBe('ENOENT');
      // After prune nothing is left at all; after another command, only the temp files prune clears.
      if (args[0] === 'images') await ok(['--root', root, 'prune']);
      expect((await tsbuild(['--root', root, 'system', 'check'])).code).toBe(0);
    });
  }
});
