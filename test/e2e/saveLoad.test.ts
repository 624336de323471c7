import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;
let out: string;

interface Inspected { digest: string; manifest: { config: { digest: string } } }
const inspect = async (store: string, ref: string) => JSON.parse((await tsbuildOk(['--root', store, 'inspect', ref])).stdout) as Inspected;
const names = async (store: string) => (JSON.parse((await tsbuildOk(['--root', store, 'images', '--json'])).stdout) as { name?: string }[]).map((r) => r.name ?? '<none>');

beforeAll(async () => {
  await requireTools({ skopeo: 'skopeo' });
  root = await dirs.make();
  out = await dirs.make();
  for (const [name, content] of [['first', 'one'], ['second', 'two']]) {
    const context = await dirs.make();
    await writeFile(join(context, 'f'), content!);
    await writeFile(join(context, 'Dockerfile'), `FROM scratch\nCOPY f /f\nLABEL which=${name}\n`);
    await tsbuildOk(['--root', root, 'build', '-q', '-t', name!, context]);
  }
});
afterAll(() => dirs.cleanup());

describe('save and load', () => {
  it('save -o writes a docker-archive of several images that skopeo reads; load brings them back by name', async () => {
    const file = join(out, 'two.tar');
    await tsbuildOk(['--root', root, 'save', '-o', file, 'first', 'second']);
    for (const name of ['first', 'second']) {
      const seen = JSON.parse((await run('skopeo', ['inspect', '--config', `docker-archive:${file}:localhost/${name}:latest`])).stdout) as { config: { Labels: Record<string, string> } };
      expect(seen.config.Labels).toEqual({ which: name });
    }
    const fresh = await dirs.make();
    const loaded = await tsbuildOk(['--root', fresh, 'load', '-i', file]);
    expect(loaded.stdout).toBe('Loaded image: localhost/first:latest\nLoaded image: localhost/second:latest\n');
    expect(await names(fresh)).toEqual(['localhost/first:latest', 'localhost/second:latest']);
    // A docker-archive holds configs and layers, not manifests; the OCI manifest made up on load is the one tsbuild wrote.
    expect((await inspect(fresh, 'second')).digest).toBe((await inspect(root, 'second')).digest);
    const seen = JSON.parse((await run('skopeo', ['inspect', `oci:${fresh}/oci:localhost/second:latest`])).stdout) as { Labels: Record<string, string> };
    expect(seen.Labels).toEqual({ which: 'second' });
  });

  it('--format oci-archive round-trips with the same manifest digest, read by skopeo and detected by content', async () => {
    const file = join(out, 'first.oci.tar');
    await tsbuildOk(['--root', root, 'save', '--format', 'oci-archive', '-o', file, 'first']);
    const seen = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${file}:localhost/first:latest`])).stdout) as { Digest: string };
    const original = await inspect(root, 'first');
    expect(seen.Digest).toBe(original.digest);
    const fresh = await dirs.make();
    await tsbuildOk(['--root', fresh, 'load', '-i', file]);
    expect((await inspect(fresh, 'first')).digest).toBe(original.digest);
    // As `docker load < FILE`: the archive on stdin.
    const viaStdin = await dirs.make();
    expect((await tsbuildOk(['--root', viaStdin, 'load'], { input: await readFile(file) })).stdout).toBe('Loaded image: localhost/first:latest\n');
    expect(await readdir(join(viaStdin, 'tmp'))).toEqual([]);
  });

  it('load reads what skopeo (containers/image, as podman save) writes, and an untagged save stays untagged', async () => {
    const file = join(out, 'skopeo.tar');
    await run('skopeo', ['copy', `oci:${root}/oci:localhost/second:latest`, `docker-archive:${file}:example.com/team/second:v2`]);
    const fresh = await dirs.make();
    expect((await tsbuildOk(['--root', fresh, 'load', '-i', file])).stdout).toBe('Loaded image: example.com/team/second:v2\n');
    expect((await inspect(fresh, 'example.com/team/second:v2')).manifest.config.digest).toBe((await inspect(root, 'second')).manifest.config.digest);
    await run('skopeo', ['inspect', `oci:${fresh}/oci:example.com/team/second:v2`]);

    const byId = join(out, 'by-id.tar');
    await tsbuildOk(['--root', root, 'save', '-o', byId, (await inspect(root, 'first')).digest.slice(7, 19)]);
    const other = await dirs.make();
    expect((await tsbuildOk(['--root', other, 'load', '-i', byId])).stdout).toMatch(/^Loaded image ID: sha256:[0-9a-f]{64}\n$/);
    expect(await names(other)).toEqual(['<none>']);
  });

  it('a file that is no image archive is a one-line error and loads nothing', async () => {
    const junk = join(out, 'junk.tar');
    await writeFile(junk, 'not an archive at all');
    const fresh = await dirs.make();
    const r = await tsbuild(['--root', fresh, 'load', '-i', junk]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tsbuild: error: .*junk\.tar[^\n]*\n$/);
    expect(await names(fresh)).toEqual([]);
  });
});
