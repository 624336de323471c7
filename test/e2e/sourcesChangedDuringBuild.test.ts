import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, realpath, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { TSBUILD_BIN, tsbuild, tsbuildOk, type CliResult } from '../helpers/tsbuildCli.js';
import { rootAndContextPerTest } from '../helpers/tempDirs.js';

// A COPY whose key misses is written after the key's walk of the context. A file changed between
// the two, keeping its size, must not land in the layer under the key of its old content: a later
// build of that old content would hit and get the new one (issue 14: "a wrong cache hit is the
// worst bug a builder can have"). The change is made at a known point of the key's walk: the hash
// store's segment of the last directory is a FIFO, which holds the walk until the test writes it.

let root: string;
let context: string;
const dirs = rootAndContextPerTest(async (newRoot, newContext) => {
  root = newRoot;
  context = await realpath(newContext);
  for (const dir of ['a', 'b', 'z']) {
    await mkdir(join(context, 'tree', dir), { recursive: true });
    for (let i = 0; i < 5; i++) await writeFile(join(context, 'tree', dir, `f${i}.txt`), `${dir} file ${i}\n`);
  }
});

const OLD = 'old content of a file\n';
const SAME_SIZE = 'NEW CONTENT OF A FILE\n';
const OTHER_SIZE = 'new content, longer than the old\n';

/** Past the hash store's racy window, so its records are trusted and the key's walk only stats. */
const settle = () => sleep(2100);

async function build(dockerfile: string): Promise<CliResult> {
  await writeFile(join(context, 'Dockerfile'), dockerfile);
  return tsbuild(['--root', root, 'build', '--progress=plain', '-t', 'changing', context]);
}

async function copied(path: string): Promise<string> {
  const bundle = join(await dirs.make(), 'bundle');
  await tsbuildOk(['--root', root, 'bundle', 'changing', bundle]);
  return readFile(join(bundle, 'rootfs', path), 'utf8');
}

/**
 * Runs `build`, holding each of its first `walks` key walks where it reads the store's segment
 * of `tree/z` (the last directory, after `tree/a` is listed and its records read) while
 * `change` runs.
 */
async function changedDuringKeyWalks(build: () => Promise<CliResult>, change: (walk: number) => Promise<void>, walks = 1): Promise<CliResult> {
  const id = createHash('sha256').update(join(context, 'tree', 'z')).digest('hex');
  const segment = join(root, 'cache', 'context-hashes', id.slice(0, 2), id.slice(2, 40));
  const text = await readFile(segment);
  execFileSync('rm', [segment]);
  execFileSync('mkfifo', [segment]);
  const building = build();
  for (let walk = 1; walk <= walks; walk++) {
    // Opening the FIFO's writing end waits for the walk to open its reading end.
    const fifo = await open(segment, 'w');
    await change(walk);
    // The segment's name takes a new FIFO for the next walk, or a regular file after the last,
    // before this walk reads on.
    if (walk < walks) {
      execFileSync('rm', [segment]);
      execFileSync('mkfifo', [segment]);
    } else {
      await writeFile(`${segment}.test`, text);
      await rename(`${segment}.test`, segment);
    }
    await fifo.write(text);
    await fifo.close();
  }
  return building;
}

describe('a context file changed between the cache key and the layer', () => {
  // What the build says changed shows which check saw it.
  for (const [shape, dockerfile, path, NEW, seen, pastBudget] of [
    ['a directory (checked against the key walk\'s listing)', 'FROM scratch\nCOPY tree /tree\n', 'tree/a/changing.txt', SAME_SIZE, '"tree/a/changing.txt"', false],
    ['a directory, to another size', 'FROM scratch\nCOPY tree /tree\n', 'tree/a/changing.txt', OTHER_SIZE, '"tree/a/changing.txt"', false],
    ['a directory listed again past the kept listings\' budget (by fingerprint)', 'FROM scratch\nCOPY tree /tree\n', 'tree/a/changing.txt', SAME_SIZE, '"tree/a"', true],
    ['a file named on its own (the key walked again after the layer)', 'FROM scratch\nCOPY tree/a/changing.txt tree/z /tree/\n', 'tree/changing.txt', SAME_SIZE, 'a source', false],
  ] as const) {
    it(`of ${shape}: the layer is written again under the new key, and the old content never hits it`, async () => {
      if (pastBudget) {
        // tree's own listing, the first, fills KeptListings' budget of 320,000 entries. Ignored: no layer carries them.
        execFileSync('sh', ['-c', 'seq -f e%06g 1 319997 | xargs touch'], { cwd: join(context, 'tree') });
        await writeFile(join(context, '.dockerignore'), 'tree/e*\n');
      }
      await writeFile(join(context, 'tree', 'a', 'changing.txt'), OLD);
      await settle();
      expect((await build(dockerfile)).code).toBe(0);
      // Another source changes, so the next build misses and writes its layer after its key.
      await writeFile(join(context, 'tree', 'z', 'f2.txt'), 'z file 2, second edition\n');
      await settle();
      const changing = await changedDuringKeyWalks(() => build(dockerfile), () => writeFile(join(context, 'tree', 'a', 'changing.txt'), NEW));
      expect(changing.stderr).toBe('');
      expect(changing.code).toBe(0);
      expect(changing.stdout).toContain(`--> ${seen} changed while the layer was written: writing it again`);
      expect(await copied(path)).toBe(NEW);
      // The old content again, with z's new file: the key the changing build first looked up. It must not hit.
      await writeFile(join(context, 'tree', 'a', 'changing.txt'), OLD);
      const back = await build(dockerfile);
      expect(back.code).toBe(0);
      expect(await copied(path)).toBe(OLD);
    });
  }

  it('a RUN that bind-mounts the context runs again when the context changed while it ran, and the old content never hits it', async () => {
    await importBusybox(root);
    const changing = join(context, 'tree', 'a', 'changing.txt');
    const dockerfile = 'FROM busybox\nRUN --mount=type=bind,target=/ctx sh -c "echo waiting; sleep 2; cat /ctx/tree/a/changing.txt > /out"\n';
    await writeFile(changing, OLD);
    expect((await build(dockerfile)).code).toBe(0);
    await writeFile(join(context, 'tree', 'z', 'f2.txt'), 'z file 2, second edition\n');
    // The file changes once the RUN has begun (its key is looked up by then), before it reads the file.
    const child = spawn(process.execPath, [TSBUILD_BIN, '--root', root, 'build', '--progress=plain', '-t', 'changing', context], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    let changed: Promise<void> | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // The RUN's own output, not the step's line that shows its command.
      if (stdout.includes('] waiting\n')) changed ??= writeFile(changing, SAME_SIZE);
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    await changed;
    expect(code).toBe(0);
    expect(stdout).toContain('--> the build context it mounts changed while the layer was written: writing it again');
    expect(await copied('out')).toBe(SAME_SIZE);
    await writeFile(changing, OLD);
    expect((await build(dockerfile)).code).toBe(0);
    expect(await copied('out')).toBe(OLD);
  });

  it('a source that changes during every key walk fails the build in one line, naming it, after three layers', async () => {
    await settle();
    expect((await build('FROM scratch\nCOPY tree /tree\n')).code).toBe(0);
    await writeFile(join(context, 'tree', 'b', 'f2.txt'), 'b file 2, second edition\n');
    await settle();
    // Rewritten, its size kept, during each of the three key walks: every layer reads it changed since its walk.
    const failed = await changedDuringKeyWalks(() => build('FROM scratch\nCOPY tree /tree\n'), (walk) => writeFile(join(context, 'tree', 'a', 'f1.txt'), `a file 1 #${walk}\n`), 3);
    expect(failed.code).toBe(1);
    expect(failed.stdout.split('"tree/a/f1.txt" changed while the layer was written: writing it again')).toHaveLength(3);
    expect(failed.stderr.trim().split('\n')).toHaveLength(1);
    expect(failed.stderr).toContain('"tree/a/f1.txt" changed while it was written into the layer: it changed again each of the 3 times the layer was written (run it again)');
  });
});
