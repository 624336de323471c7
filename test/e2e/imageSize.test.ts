import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuildOk } from '../helpers/tsbuildCli.js';

// buildah wants a lowercase path in oci: references, which mkdtemp's names are not.
const dir = `/tmp/tsbuild-image-size-${process.pid}`;
const root = join(dir, 'store');
const storage = ['--storage-driver', 'vfs', '--root', join(dir, 'buildah'), '--runroot', join(dir, 'buildah-run')];

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9 };

beforeAll(async () => {
  await requireTools({ buildah: 'buildah' });
  const context = join(dir, 'context');
  await mkdir(context, { recursive: true });
  // Compressible content: the compressed size is a small fraction of the uncompressed one.
  await writeFile(join(context, 'zeros'), Buffer.alloc(3_000_000));
  await writeFile(join(context, 'text'), 'the same line again\n'.repeat(60_000));
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY zeros /zeros\nCOPY text /text\n');
  await tsbuildOk(['--root', root, 'build', '-q', '-t', 'sized', context]);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('images SIZE', () => {
  it('is the uncompressed size buildah shows for the same image; --json keeps the compressed size', async () => {
    const [row] = JSON.parse((await tsbuildOk(['--root', root, 'images', '--json'])).stdout) as { digest: string; size: number; uncompressedSize: number }[];
    expect(row!.size).toBeLessThan(row!.uncompressedSize / 10);
    const table = (await tsbuildOk(['--root', root, 'images'])).stdout.split('\n')[1]!;
    expect(table).toMatch(/\s4\.2\d?MB$/);

    await run('buildah', [...storage, 'pull', '-q', `oci:${root}/oci:localhost/sized:latest`]);
    const shown = (await run('buildah', [...storage, 'images', '--format', '{{.Size}}'])).stdout.trim();
    const [, value, unit] = /^([\d.]+) (\w+)$/.exec(shown)!;
    // buildah prints three significant digits; containers/storage also counts the manifest a second time
    // (stored under "manifest" and "manifest-<digest>"), which SIZE here counts once.
    const index = JSON.parse(await readFile(join(root, 'oci/index.json'), 'utf8')) as { manifests: { size: number }[] };
    const podmanBytes = row!.uncompressedSize + index.manifests[0]!.size;
    const halfStep = UNITS[unit!]! * 10 ** (Math.floor(Math.log10(Number(value))) - 2) / 2;
    expect(Math.abs(Number(value) * UNITS[unit!]! - podmanBytes)).toBeLessThanOrEqual(halfStep);
  });
});
