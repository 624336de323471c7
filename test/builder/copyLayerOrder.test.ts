import { link, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tar from 'tar-stream';
import { tsbuildOk } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

// COPY streams a tree into its layer as it walks it (#14): the walk must come out in the
// layer's canonical order (UTF-8 byte order of whole paths), hard links must name a file
// written before them, and a later source must still win over an earlier one.

interface Member {
  name: string;
  type: string;
  linkname?: string;
  mode: number;
  content: string;
}

const dirs = tempDirs();
let layers: Member[][];

async function readLayer(blob: string): Promise<Member[]> {
  const members: Member[] = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(Buffer.from(c as Uint8Array)));
      stream.on('end', () => {
        members.push({ name: header.name, type: header.type ?? 'file', linkname: header.linkname ?? undefined, mode: header.mode ?? 0,
          content: Buffer.concat(chunks).toString() });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  createReadStream(blob).pipe(createGunzip()).pipe(extract);
  await done;
  return members;
}

beforeAll(async () => {
  const context = await dirs.make();
  const root = await dirs.make();
  const files: Record<string, string> = {
    'src/a/b': 'a/b', 'src/a.txt': 'a.txt', 'src/a-b/c': 'a-b/c', 'src/ab': 'ab', 'src/Z': 'Z',
    'src/\u00e9': 'e-acute', 'src/\ue000x': 'private use', 'src/\u{1f600}': 'emoji',
    'src/m/first': 'linked', 'src/ign/keep/x': 'kept', 'src/ign/z': 'ignored', 'other/a.txt': 'other a.txt',
  };
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(context, rel, '..'), { recursive: true });
    await writeFile(join(context, rel), content);
  }
  // Walked after m/first, but first in layer order: it must be the one written as the file.
  await link(join(context, 'src/m/first'), join(context, 'src/0-hard'));
  await writeFile(join(context, '.dockerignore'), 'src/ign\n!src/ign/keep\n');
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY src /dst/\nCOPY src other/ /multi/\n');
  await tsbuildOk(['--root', root, 'build', '-q', '-t', 'order', context]);
  const oci = join(root, 'oci');
  const index = JSON.parse(await readFile(join(oci, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const blob = (digest: string) => join(oci, 'blobs', ...digest.split(':'));
  const manifest = JSON.parse(await readFile(blob(index.manifests.at(-1)!.digest), 'utf8')) as { layers: { digest: string }[] };
  layers = await Promise.all(manifest.layers.map((l) => readLayer(blob(l.digest))));
});

afterAll(() => dirs.cleanup());

const trimmed = (name: string) => name.replace(/\/$/, '');

describe('COPY of a directory tree', () => {
  it('writes its entries in UTF-8 byte order of their paths', () => {
    const names = layers[0]!.map((m) => trimmed(m.name));
    expect(names).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(names).toEqual([
      'dst', 'dst/0-hard', 'dst/Z', 'dst/a', 'dst/a-b', 'dst/a-b/c', 'dst/a.txt', 'dst/a/b', 'dst/ab', 'dst/ign', 'dst/ign/keep', 'dst/ign/keep/x',
      'dst/m', 'dst/m/first', 'dst/\u00e9', 'dst/\ue000x', 'dst/\u{1f600}',
    ]);
  });

  it('makes the first name of a multiply-linked file in layer order the file, the others links to it', () => {
    const byName = new Map(layers[0]!.map((m) => [trimmed(m.name), m]));
    expect(byName.get('dst/0-hard')).toMatchObject({ type: 'file', content: 'linked' });
    expect(byName.get('dst/m/first')).toMatchObject({ type: 'link', linkname: 'dst/0-hard' });
  });

  it('creates a directory .dockerignore excludes only for what an exception re-includes below it', () => {
    const byName = new Map(layers[0]!.map((m) => [trimmed(m.name), m]));
    expect(byName.get('dst/ign')).toMatchObject({ type: 'directory', mode: 0o755 });
    expect(byName.has('dst/ign/z')).toBe(false);
  });

  it('lets a later source replace what an earlier one wrote at the same path, once', () => {
    const multi = layers[1]!.filter((m) => trimmed(m.name) === 'multi/a.txt');
    expect(multi).toEqual([expect.objectContaining({ type: 'file', content: 'other a.txt' })]);
    const names = layers[1]!.map((m) => trimmed(m.name));
    expect(new Set(names).size).toBe(names.length);
  });
});
