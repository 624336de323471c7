import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer as collect } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  createLayer, encodeChecksummedLine, LocalStore, parseChecksummedLine,
  type GzipMemberSource, type LayerChange,
} from '@tsbuild/oci-layout';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbuild-members-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** 40 files of 128 KiB of random bytes and one of 3 MiB: a tar of about 8 MiB. */
const original = [...Array.from({ length: 40 }, () => randomBytes(128 * 1024)), randomBytes(3 * 1024 * 1024)];

function changes(contents: Buffer[]): LayerChange[] {
  return contents.map((content, i) => ({
    kind: 'entry',
    entry: { path: `tree/f${String(i).padStart(2, '0')}`, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, size: content.length, read: () => content, open: () => Readable.from([content]) },
  }));
}

/** `contents` with file `at` rewritten, `grow` bytes longer. */
function changedAt(contents: Buffer[], at: number, grow = 0): Buffer[] {
  return contents.map((c, i) => (i === at ? randomBytes(c.length + grow) : c));
}

/** The store at `work/store`, opened anew: its member index is read from its file, as another process would. */
function openStore(): Promise<LocalStore> {
  return LocalStore.open(join(work, 'store'));
}

/** Stores the layer of `contents` through the store's member index, as the builder does, and counts the members it took. */
async function storeLayer(contents: Buffer[]) {
  const store = await openStore();
  let hits = 0;
  const source: GzipMemberSource = {
    async find(block) {
      const member = await store.gzipMembers.find(block);
      if (member) hits++;
      return member;
    },
  };
  const layer = createLayer(changes(contents), { compression: 'gzip', reuse: source });
  const { digest } = await store.layout.putBlob(layer.stream);
  const members = layer.members();
  await store.gzipMembers.record(digest, members);
  return { digest, members, hits, diffId: await layer.diffId, blob: await store.layout.readBlob(digest) };
}

/** The layer compressed from scratch, with no index. */
async function freshLayer(contents: Buffer[]): Promise<{ blob: Buffer; diffId: string }> {
  const layer = createLayer(changes(contents), { compression: 'gzip' });
  const blob = await collect(layer.stream);
  return { blob, diffId: await layer.diffId };
}

describe('gzip member reuse', () => {
  const indexFile = () => join(work, 'store', 'cache', 'gzip-members');

  test('a layer written again with one file changed takes every unchanged member, and its bytes are a fresh compression\'s', async () => {
    const first = await storeLayer(original);
    expect(first.hits).toBe(0);
    expect(first.blob.equals((await freshLayer(original)).blob)).toBe(true);
    // Blocks end where entries do (at least 512 KiB in), and the big file is cut at its start and every MiB.
    expect(first.members.length).toBeGreaterThanOrEqual(4);

    const edited = changedAt(original, 20);
    const second = await storeLayer(edited);
    const fresh = await freshLayer(edited);
    expect(second.blob.equals(fresh.blob)).toBe(true);
    expect(second.diffId).toBe(fresh.diffId);
    expect(second.digest).not.toBe(first.digest);
    expect(second.members.length).toBe(first.members.length);
    // Only the block holding file 20 is compressed again.
    expect(second.hits).toBe(first.members.length - 1);
    expect((await storeLayer(original)).hits).toBe(first.members.length);
  });

  test('a file that changes size moves no cut but its own: the blocks after it are taken again', async () => {
    const first = await storeLayer(original);
    const grown = changedAt(original, 3, 5000);
    const second = await storeLayer(grown);
    expect(second.blob.equals((await freshLayer(grown)).blob)).toBe(true);
    // The block holding file 3, and at most the one after it, are new; with cuts every 1 MiB all would be.
    expect(second.hits).toBeGreaterThanOrEqual(second.members.length - 2);
    const same = second.members.filter((m) => first.members.some((f) => f.block === m.block)).length;
    expect(same).toBe(second.hits);
  });

  test('an index that lies about where members are costs a compression, never a wrong byte', async () => {
    await storeLayer(original);
    const [header, line] = (await readFile(indexFile(), 'utf8')).split('\n');
    // Every block named by the next one's hash: checksummed, well formed, and wrong.
    const [blob, members] = parseChecksummedLine(line!) as [string, [string, number][]];
    const shifted = members.map(([, length], i) => [members[(i + 1) % members.length]![0], length]);
    await writeFile(indexFile(), `${header}\n${encodeChecksummedLine([blob, shifted])}\n`);

    const rebuilt = await storeLayer(original);
    expect(rebuilt.hits).toBe(0);
    expect(rebuilt.blob.equals((await freshLayer(original)).blob)).toBe(true);
  });

  test('damaged lines and removed blobs are passed over; a file of another format is replaced', async () => {
    const first = await storeLayer(original);
    // A checksummed line that claims a member of 1 TiB, for a block the rebuild has: passed over, not allocated.
    const huge = encodeChecksummedLine([first.digest, [[first.members[1]!.block, 2 ** 40], [first.members[2]!.block, 100]]]);
    await appendFile(indexFile(), `00000000\t["sha256:00"]\nnot a line\n${huge}\n{"torn":`);

    const edited = changedAt(original, 0);
    const second = await storeLayer(edited);
    expect(second.hits).toBe(first.members.length - 1);
    // The torn end made the new line a rewrite: the damage is gone and both layers are listed.
    const lines = (await readFile(indexFile(), 'utf8')).split('\n');
    expect(lines.map((l) => parseChecksummedLine(l)?.[0])).toEqual(['tsbuild-gzip-members-v1', first.digest, second.digest, undefined]);

    const store = await openStore();
    await store.layout.removeBlob(first.digest);
    await store.layout.removeBlob(second.digest);
    const third = await storeLayer(original);
    expect(third.hits).toBe(0);
    expect(third.blob.equals(first.blob)).toBe(true);

    await writeFile(indexFile(), `${encodeChecksummedLine(['tsbuild-gzip-members-v0', 'other'])}\n${lines[1]}\n`);
    const fourth = await storeLayer(edited);
    expect(fourth.hits).toBe(0);
    const replaced = (await readFile(indexFile(), 'utf8')).split('\n');
    expect(replaced.map((l) => parseChecksummedLine(l)?.[0])).toEqual(['tsbuild-gzip-members-v1', fourth.digest, undefined]);
  });

  test('the file keeps the newest layers whose blobs remain, so it does not grow with every build', async () => {
    const digests: string[] = [];
    for (let i = 0; i < 16; i++) digests.push((await storeLayer([randomBytes(3 * 1024 * 1024)])).digest);
    expect((await readFile(indexFile(), 'utf8')).split('\n').length).toBe(18);
    await (await openStore()).layout.removeBlob(digests[14]! as never);
    digests.push((await storeLayer([randomBytes(3 * 1024 * 1024)])).digest);
    const listed = (await readFile(indexFile(), 'utf8')).split('\n').slice(1, -1).map((l) => parseChecksummedLine(l)?.[0]);
    expect(listed).toEqual([...digests.slice(8, 14), ...digests.slice(15)]);
  });
});
