import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;
let context: string;

const tsb = (...args: string[]) => tsbuildOk(['--root', root, ...args]);

async function buildUntagged(content: string): Promise<string> {
  await writeFile(join(context, 'a'), content);
  return (await tsb('build', '-q', context)).stdout.trim();
}

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo' });
  root = await dirs.make();
  context = await dirs.make();
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY a /a\nCMD ["/a"]\n');
});
afterAll(() => dirs.cleanup());

describe('an untagged build (build -q without -t)', () => {
  it('is listed as <none> <none> and used by ID prefix and by digest', async () => {
    const digest = await buildUntagged('one');
    const id = digest.slice('sha256:'.length, 'sha256:'.length + 12);
    const images = (await tsb('images')).stdout.split('\n');
    expect(images.find((l) => l.includes(id))).toMatch(new RegExp(`^<none>\\s+<none>\\s+${id}\\s`));
    const listed = JSON.parse((await tsb('images', '--json')).stdout) as { name?: string; repository: string; digest: string }[];
    expect(listed.find((r) => r.digest === digest)).toMatchObject({ repository: '<none>', tag: '<none>' });
    expect(listed.find((r) => r.digest === digest)).not.toHaveProperty('name');

    expect(JSON.parse((await tsb('inspect', id)).stdout).digest).toBe(digest);
    expect(JSON.parse((await tsb('inspect', digest)).stdout).config.config.Cmd).toEqual(['/a']);

    const bundle = join(await dirs.make(), 'b');
    await tsb('bundle', id.slice(0, 6), bundle);
    expect(await readFile(join(bundle, 'rootfs/a'), 'utf8')).toBe('one');

    const out = await dirs.make();
    await tsb('push', digest, `oci:${out}:pushed`);
    const seen = JSON.parse((await run('skopeo', ['inspect', `oci:${out}:pushed`])).stdout) as { Digest: string };
    expect(seen.Digest).toBe(digest);

    await tsb('tag', id, 'named:v1');
    const afterTag = JSON.parse((await tsb('images', '--json')).stdout) as { name?: string; digest: string }[];
    expect(afterTag.filter((r) => r.digest === digest).map((r) => r.name)).toEqual(['localhost/named:v1']);
    await tsb('rmi', 'named:v1');
  });

  it('stays readable by skopeo: named images beside an unnamed index entry resolve as before', async () => {
    await writeFile(join(context, 'a'), 'named');
    const named = (await tsb('build', '-q', '-t', 'beside', context)).stdout.trim();
    const dangling = await buildUntagged('dangling');
    const index = JSON.parse(await readFile(join(root, 'oci/index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    expect(index.manifests.find((m) => m.digest === dangling)?.annotations?.['org.opencontainers.image.ref.name']).toBeUndefined();
    const seen = JSON.parse((await run('skopeo', ['inspect', `oci:${root}/oci:localhost/beside:latest`])).stdout) as { Digest: string };
    expect(seen.Digest).toBe(named);
  });

  it('rmi by ID deletes it; image prune removes dangling images only, -a every image', async () => {
    const gone = await buildUntagged('rmi me');
    expect((await tsb('rmi', gone.slice(7, 19))).stdout).toBe(`Deleted: ${gone}\n`);
    expect((await tsbuild(['--root', root, 'inspect', gone])).code).toBe(1);

    const dangling = await buildUntagged('prune me');
    const config = (JSON.parse((await tsb('inspect', dangling)).stdout) as { manifest: { config: { digest: string } } }).manifest.config.digest;
    const pruned = await tsb('image', 'prune', '-f');
    expect(pruned.stdout).toContain(`deleted: ${dangling}\n`);
    const inspect = await tsbuild(['--root', root, 'inspect', dangling]);
    expect(inspect.code).toBe(1);
    expect(inspect.stderr).toMatch(/not found/);
    const left = JSON.parse((await tsb('images', '--json')).stdout) as { name?: string }[];
    expect(left.map((r) => r.name)).toEqual(['localhost/beside:latest']);
    // Its blobs went too: no other image has this config.
    await expect(readFile(join(root, 'oci/blobs/sha256', config.slice('sha256:'.length)))).rejects.toThrow(/ENOENT/);

    const all = await tsb('image', 'prune', '-a', '-f');
    expect(all.stdout).toContain('untagged: localhost/beside:latest\n');
    expect(JSON.parse((await tsb('images', '--json')).stdout)).toEqual([]);
    const index = JSON.parse(await readFile(join(root, 'oci/index.json'), 'utf8')) as { manifests: unknown[] };
    expect(index.manifests).toEqual([]);
  });
});
