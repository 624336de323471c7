import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { requireTools } from '../helpers/tools.js';
import { tsbuild, type CliResult } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

// Why a step missed the build cache (--progress=plain, --explain-cache), and prune --cache.

const dirs = tempDirs();
let root: string;

beforeAll(async () => {
  await requireTools({ runc: 'runc' });
  root = await dirs.make();
  await importBusybox(root);
});
afterAll(() => dirs.cleanup());

async function tsb(args: string[], storeRoot = root): Promise<CliResult> {
  const r = await tsbuild(['--root', storeRoot, ...args]);
  if (r.code !== 0) throw new Error(`tsbuild ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

async function project(files: Record<string, string>): Promise<string> {
  const dir = await dirs.make();
  await writeFiles(dir, files);
  return dir;
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** The line under each `STEP n/m: ...` line that says how the cache served it, by step line. */
function cacheLines(stdout: string): Record<string, string | undefined> {
  const lines = stdout.split('\n');
  const out: Record<string, string | undefined> = {};
  lines.forEach((line, i) => {
    if (!line.startsWith('STEP ')) return;
    const next = lines[i + 1];
    out[line] = next?.startsWith('-->') ? next : undefined;
  });
  return out;
}

/** Every file under `dir`, read whole: what the store keeps on disk. */
async function allText(dir: string): Promise<string> {
  let text = '';
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) text += (await readFile(join(entry.parentPath, entry.name))).toString('latin1');
  }
  return text;
}

describe('--progress=plain says why a step missed the cache', () => {
  it('names a changed build arg, never its value nor a secret\'s, in the output or on disk', async () => {
    const secret = join(await dirs.make(), 'token');
    await writeFile(secret, 'hunter2-secret-value\n');
    const dir = await project({
      Dockerfile: 'FROM busybox\nARG VERSION\nRUN --mount=type=secret,id=token test -s /run/secrets/token && echo built "$VERSION" | wc -c\n',
    });
    const build = (version: string) => tsb(['build', '--progress=plain', '--build-arg', `VERSION=${version}`, '--secret', `id=token,src=${secret}`, dir]);
    await build('v1-value-alpha');
    const second = await build('v2-value-beta');
    expect(cacheLines(second.stdout)).toEqual({
      'STEP 1/3: FROM busybox': undefined,
      'STEP 2/3: ARG VERSION': '--> Cache miss: build arg VERSION changed',
      'STEP 3/3: RUN --mount=type=secret,id=token test -s /run/secrets/token && echo built "$VERSION" | wc -c': '--> Cache miss: parent step changed (since STEP 2/3)',
    });
    const json = await tsb(['build', '--explain-cache', '--build-arg', 'VERSION=v3-value-gamma', '--secret', `id=token,src=${secret}`, dir]);
    expect(JSON.parse(json.stdout).steps[0].reasons).toEqual([{ kind: 'build-arg', names: ['VERSION'] }]);
    for (const out of [second.stdout, second.stderr, json.stdout, json.stderr]) {
      expect(out).not.toMatch(/v1-value-alpha|v2-value-beta|v3-value-gamma|hunter2/);
    }
    const records = await allText(join(root, 'cache'));
    expect(records).toContain('arg:VERSION');
    expect(records).not.toMatch(/value-alpha|value-beta|value-gamma|hunter2/);
  });

  it('names the changed source paths and how many, for COPY and for a RUN bind mount', async () => {
    const dir = await project({
      Dockerfile: 'FROM busybox\nCOPY src /src\nRUN --mount=type=bind,source=conf,target=/conf cat /conf/a.conf > /a.conf\n',
      'src/app.js': 'app 1\n', 'src/b.js': 'b 1\n', 'src/lib/c.js': 'c 1\n', 'conf/a.conf': 'a=1\n', 'conf/b.conf': 'b=1\n',
    });
    await tsb(['build', '--progress=plain', dir]);
    await writeFiles(dir, { 'src/app.js': 'app 2\n', 'src/new.js': 'new\n' });
    const copyChanged = await tsb(['build', '--progress=plain', dir]);
    expect(cacheLines(copyChanged.stdout)).toMatchObject({
      'STEP 2/3: COPY src /src': '--> Cache miss: COPY sources changed: src/app.js, src/new.js (2 paths)',
      'STEP 3/3: RUN --mount=type=bind,source=conf,target=/conf cat /conf/a.conf > /a.conf': '--> Cache miss: parent step changed (since STEP 2/3)',
    });

    await writeFiles(dir, { 'conf/b.conf': 'b=2\n' });
    const mountChanged = await tsb(['build', '--progress=plain', dir]);
    expect(cacheLines(mountChanged.stdout)).toMatchObject({
      'STEP 2/3: COPY src /src': '--> Using cache',
      'STEP 3/3: RUN --mount=type=bind,source=conf,target=/conf cat /conf/a.conf > /a.conf': '--> Cache miss: bind mount sources changed: conf/b.conf (1 path)',
    });

    // Many changes: the first five in walk order, then how many in all.
    const many: Record<string, string> = {};
    for (let i = 0; i < 8; i++) many[`src/gen/f${i}.js`] = `${i}\n`;
    await writeFiles(dir, many);
    await rm(join(dir, 'src/b.js'));
    const manyChanged = await tsb(['build', '--progress=plain', dir]);
    expect(cacheLines(manyChanged.stdout)['STEP 2/3: COPY src /src']).toBe(
      '--> Cache miss: COPY sources changed: src/b.js, src/gen, src/gen/f0.js, src/gen/f1.js, src/gen/f2.js, ... (10 paths)',
    );
  });

  it('names the base image digests when FROM resolves to another image, and the parent after it', async () => {
    const first = (await tsb(['build', '-q', '-t', 'base', await project({ Dockerfile: 'FROM busybox\nLABEL variant=1\n' })])).stdout.trim();
    const dir = await project({ Dockerfile: 'FROM base\nCOPY a /a\nRUN cat /a\n', a: 'a\n' });
    await tsb(['build', '--progress=plain', dir]);
    const second = (await tsb(['build', '-q', '-t', 'base', await project({ Dockerfile: 'FROM busybox\nLABEL variant=2\n' })])).stdout.trim();
    const rebuilt = await tsb(['build', '--progress=plain', dir]);
    expect(cacheLines(rebuilt.stdout)).toEqual({
      'STEP 1/3: FROM base': undefined,
      'STEP 2/3: COPY a /a': `--> Cache miss: base image changed: ${first} -> ${second}`,
      'STEP 3/3: RUN cat /a': '--> Cache miss: parent step changed (since STEP 2/3)',
    });
  });

  it('names a changed env value, a changed instruction and a changed --from stage', async () => {
    const store = await dirs.make();
    const dir = await project({ Dockerfile: 'FROM scratch AS lib\nCOPY lib /lib\nFROM scratch\nENV MODE=one\nCOPY a /a\nCOPY --from=lib /lib /lib\n', a: 'a\n', lib: 'lib 1\n' });
    await tsb(['build', '--progress=plain', dir], store);
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch AS lib\nCOPY lib /lib\nFROM scratch\nENV MODE=two\nCOPY a /a\nCOPY --from=lib /lib /lib\n');
    expect(cacheLines((await tsb(['build', '--progress=plain', dir], store)).stdout)['STEP 4/6: ENV MODE=two']).toBe('--> Cache miss: env MODE changed');
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch AS lib\nCOPY lib /lib\nFROM scratch\nENV MODE=two\nCOPY a /b\nCOPY --from=lib /lib /lib\n');
    expect(cacheLines((await tsb(['build', '--progress=plain', dir], store)).stdout)['STEP 5/6: COPY a /b']).toBe('--> Cache miss: instruction changed (after expansion)');
    await writeFile(join(dir, 'lib'), 'lib 2\n');
    expect(cacheLines((await tsb(['build', '--progress=plain', dir], store)).stdout)).toMatchObject({
      'STEP 2/6: COPY lib /lib': '--> Cache miss: COPY sources changed: lib (1 path)',
      'STEP 5/6: COPY a /b': '--> Using cache',
      'STEP 6/6: COPY --from=lib /lib /lib': '--> Cache miss: the stage or image COPY --from reads changed (since STEP 2/6)',
    });
  });

  it('says when there is no record: a fresh store, a step never built after its parent', async () => {
    const fresh = await dirs.make();
    const dir = await project({ Dockerfile: 'FROM scratch\nCOPY a /a\nLABEL x=1\n', a: 'a\n' });
    expect(cacheLines((await tsb(['build', '--progress=plain', dir], fresh)).stdout)).toEqual({
      'STEP 1/3: FROM scratch': undefined,
      'STEP 2/3: COPY a /a': '--> Cache miss: no cache record',
      'STEP 3/3: LABEL x=1': '--> Cache miss: parent step changed (since STEP 2/3)',
    });
    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY a /a\nCOPY a /b\nLABEL x=1\n');
    expect(cacheLines((await tsb(['build', '--progress=plain', dir], fresh)).stdout)).toMatchObject({
      'STEP 2/4: COPY a /a': '--> Using cache',
      'STEP 3/4: COPY a /b': '--> Cache miss: no cache record',
    });
    // auto (the default) keeps the short form.
    await writeFile(join(dir, 'a'), 'changed\n');
    expect((await tsb(['build', dir], fresh)).stdout).not.toContain('Cache miss');
  });
});

describe('--explain-cache', () => {
  it('prints one JSON document on stdout (digest, names, each step), progress on stderr', async () => {
    // Its own store: every FROM scratch stage shares one base key, so another test's steps would be records to compare with.
    const store = await dirs.make();
    const dir = await project({ Dockerfile: 'FROM scratch\nCOPY a /a\nENV MODE=one\n', a: 'a\n' });
    const cold = await tsb(['build', '--explain-cache', '-t', 'explained', dir], store);
    const doc = JSON.parse(cold.stdout) as { digest: string; names: string[]; steps: unknown[] };
    expect(doc.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(doc.names).toEqual(['localhost/explained:latest']);
    expect(doc.steps).toEqual([
      { step: 'STEP 2/3', instruction: 'COPY a /a', cached: false, reasons: [{ kind: 'no-record' }] },
      { step: 'STEP 3/3', instruction: 'ENV MODE=one', cached: false, reasons: [{ kind: 'parent', step: 'STEP 2/3' }] },
    ]);
    expect(cold.stderr).toContain('STEP 2/3: COPY a /a\n--> Cache miss: no cache record\n');

    const warm = JSON.parse((await tsb(['build', '--explain-cache', dir], store)).stdout) as typeof doc;
    expect(warm.digest).toBe(doc.digest);
    expect(warm.steps.every((s) => (s as { cached: boolean }).cached)).toBe(true);

    await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY a /a\nENV MODE=two\n');
    await writeFile(join(dir, 'a'), 'b\n');
    const changed = JSON.parse((await tsb(['build', '--explain-cache', dir], store)).stdout) as typeof doc;
    expect(changed.steps).toEqual([
      { step: 'STEP 2/3', instruction: 'COPY a /a', cached: false, reasons: [{ kind: 'sources', instruction: 'COPY', paths: ['a'], count: 1 }] },
      { step: 'STEP 3/3', instruction: 'ENV MODE=two', cached: false, reasons: [{ kind: 'parent', step: 'STEP 2/3' }] },
    ]);
  });
});

describe('prune --cache', () => {
  /** Fixed times: a rebuild after its record went makes the same digest. */
  const EPOCH = ['--source-date-epoch', '1600000000'];

  /** Three images of 100kB of random bytes each, built in order and untagged: their layers only the cache holds. */
  async function threeCachedBuilds(storeRoot: string): Promise<{ dirs: string[]; digests: string[] }> {
    const made = { dirs: [] as string[], digests: [] as string[] };
    for (const name of ['first', 'second', 'third']) {
      const dir = await project({ Dockerfile: 'FROM scratch\nCOPY data /data\n' });
      await writeFile(join(dir, 'data'), randomBytes(100_000));
      made.digests.push((await tsb(['build', '-q', ...EPOCH, '-t', name, dir], storeRoot)).stdout.trim());
      await tsb(['rmi', name], storeRoot);
      made.dirs.push(dir);
    }
    return made;
  }

  const blobCount = async (storeRoot: string) => (await readdir(join(storeRoot, 'oci', 'blobs', 'sha256'))).length;

  it('--keep-storage removes the least recently used records and their layers until the cache fits', async () => {
    const store = await dirs.make();
    const { dirs: contexts, digests } = await threeCachedBuilds(store);
    const blobs = await blobCount(store);
    const pruned = await tsb(['prune', '--cache', '--keep-storage', '250k'], store);
    expect(pruned.stdout).toMatch(/^Deleted 1 build cache record and 1 layer\nTotal reclaimed space: 10\dkB\n$/);
    expect(await blobCount(store)).toBe(blobs - 1);
    expect(cacheLines((await tsb(['build', '--progress=plain', ...EPOCH, contexts[2]!], store)).stdout)['STEP 2/2: COPY data /data']).toBe('--> Using cache');
    const again = await tsb(['build', '--progress=plain', ...EPOCH, contexts[0]!], store);
    expect(cacheLines(again.stdout)['STEP 2/2: COPY data /data']).toMatch(/^--> Cache miss: /);
    expect(again.stdout.trim().split('\n').at(-1)).toBe(digests[0]);
  });

  it('--filter until= removes the records not used for that long; the next builds still work', async () => {
    const store = await dirs.make();
    const { dirs: contexts, digests } = await threeCachedBuilds(store);
    // An entry's mtime is its last use, which until= reads: set back, it stands in for two hours passing.
    const steps = join(store, 'cache', 'steps');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const key of await readdir(steps)) await utimes(join(steps, key), twoHoursAgo, twoHoursAgo);
    // A hit marks its record used now.
    await tsb(['build', '-q', ...EPOCH, contexts[1]!], store);
    await tsb(['rmi', digests[1]!], store);
    const pruned = await tsb(['prune', '--cache', '--filter', 'until=1h'], store);
    expect(pruned.stdout).toMatch(/^Deleted 2 build cache records and 2 layers\n/);
    expect(cacheLines((await tsb(['build', '--progress=plain', ...EPOCH, contexts[1]!], store)).stdout)['STEP 2/2: COPY data /data']).toBe('--> Using cache');
    const rebuilt = await tsb(['build', '--progress=plain', ...EPOCH, contexts[0]!], store);
    expect(cacheLines(rebuilt.stdout)['STEP 2/2: COPY data /data']).toMatch(/^--> Cache miss: /);
    expect(rebuilt.stdout.trim().split('\n').at(-1)).toBe(digests[0]);

    const all = await tsb(['prune', '--cache'], store);
    expect(all.stdout).toMatch(/^Deleted 2 build cache records and 0 layers\n/);
    expect(await readdir(steps)).toEqual([]);
    expect(await readdir(join(store, 'cache', 'step-inputs'))).toEqual([]);
  });

  it('refuses a bad filter or size, and the flags without --cache, in one line', async () => {
    for (const [args, says] of [
      [['prune', '--cache', '--filter', 'until=soon'], 'tsbuild: error: invalid --filter "until=soon": expected until=DURATION (a Go duration such as 24h or 30m)\n'],
      [['prune', '--cache', '--filter', 'label=x'], 'tsbuild: error: invalid --filter "label=x": expected until=DURATION (a Go duration such as 24h or 30m)\n'],
      [['prune', '--cache', '--keep-storage', 'lots'], 'tsbuild: error: invalid size "lots": expected a number with an optional unit b, k, m or g\n'],
      [['prune', '--keep-storage', '1g'], 'tsbuild: error: --keep-storage and --filter apply to the build cache: add --cache\n'],
    ] as const) {
      const out = await tsbuild(['--root', root, ...args]);
      expect(out.code).toBe(125);
      expect(out.stderr).toBe(says);
    }
  });
});
