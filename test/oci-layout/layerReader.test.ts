import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { buffer as collect } from 'node:stream/consumers';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { rawTar } from '../helpers/rawLayer.js';
import {
  createLayer,
  fsNative,
  LayerFormatError,
  readLayer,
  scanLayer,
  type Compression,
  type LayerChange,
  type LayerEntry,
} from '@tsbuild/oci-layout';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbuild-reader-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function entry(path: string, fields: Partial<LayerEntry> & Pick<LayerEntry, 'type'>): LayerChange {
  return { kind: 'entry', entry: { path, mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, size: 0, ...fields } };
}

function file(path: string, text: string, fields: Partial<LayerEntry> = {}): LayerChange {
  return entry(path, { type: 'file', size: Buffer.byteLength(text), open: () => Readable.from([Buffer.from(text)]), ...fields });
}

/** Changes as plain data: file content read into a string. */
async function readAll(blob: Buffer): Promise<unknown[]> {
  const result: unknown[] = [];
  for await (const change of readLayer(Readable.from([blob]))) {
    if (change.kind === 'entry' && change.entry.content) {
      const { content, ...rest } = change.entry;
      result.push({ kind: 'entry', entry: { ...rest, text: (await collect(content)).toString() } });
    } else {
      result.push(change);
    }
  }
  return result;
}

async function layer(changes: LayerChange[], compression: Compression): Promise<Buffer> {
  return collect(createLayer(changes, { compression }).stream);
}

const binaryXattr = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x80, 0xff, 0xfe, 0x00, 0x0a, 0x3d]);
function capNetRawBlob(): Buffer {
  const blob = Buffer.alloc(20);
  blob.writeUInt32LE(0x02000001, 0);
  blob.writeUInt32LE(1 << 13, 4);
  return blob;
}

const longPath = `usr/share/${'ünïcode-'.repeat(20)}/file`;

describe('readLayer', () => {
  test.each(['none', 'gzip', 'zstd'] as const)('reads back what createLayer wrote (%s)', async (compression) => {
    const blob = await layer(
      [
        entry('etc', { type: 'directory', mode: 0o755 }),
        file('etc/hosts', 'localhost\n', { mode: 0o4750, uid: 1000, gid: 50, mtime: 1_700_000_000.25, xattrs: { 'security.capability': binaryXattr, 'user.note': Buffer.from('hi') } }),
        entry('etc/hosts.bak', { type: 'hardlink', linkname: 'etc/hosts' }),
        entry('etc/localtime', { type: 'symlink', mode: 0o777, linkname: '/usr/share/zoneinfo/UTC' }),
        file(longPath, 'x'.repeat(70_000)),
        entry('dev/sda', { type: 'block-device', mode: 0o660, devmajor: 8, devminor: 0 }),
        entry('run/fifo', { type: 'fifo', mode: 0o600 }),
        { kind: 'whiteout', path: 'var/log/old' },
        { kind: 'whiteout', path: 'top' },
        { kind: 'opaque', path: 'opt/app' },
      ],
      compression,
    );
    const base = { uid: 0, gid: 0, mtime: 1_700_000_000, size: 0 };
    expect(await readAll(blob)).toEqual([
      { kind: 'entry', entry: { ...base, path: 'etc', type: 'directory', mode: 0o755 } },
      {
        kind: 'entry',
        entry: {
          path: 'etc/hosts',
          type: 'file',
          mode: 0o4750,
          uid: 1000,
          gid: 50,
          mtime: 1_700_000_000.25,
          size: 10,
          xattrs: { 'security.capability': binaryXattr, 'user.note': Buffer.from('hi') },
          text: 'localhost\n',
        },
      },
      { kind: 'entry', entry: { ...base, path: 'etc/hosts.bak', type: 'hardlink', mode: 0o644, linkname: 'etc/hosts' } },
      { kind: 'entry', entry: { ...base, path: 'etc/localtime', type: 'symlink', mode: 0o777, linkname: '/usr/share/zoneinfo/UTC' } },
      { kind: 'entry', entry: { ...base, path: longPath, type: 'file', mode: 0o644, size: 70_000, text: 'x'.repeat(70_000) } },
      { kind: 'entry', entry: { ...base, path: 'dev/sda', type: 'block-device', mode: 0o660, devmajor: 8, devminor: 0 } },
      { kind: 'entry', entry: { ...base, path: 'run/fifo', type: 'fifo', mode: 0o600 } },
      { kind: 'whiteout', path: 'var/log/old' },
      { kind: 'whiteout', path: 'top' },
      { kind: 'opaque', path: 'opt/app' },
    ]);
  });

  test('normalises what GNU tar writes: ./ prefixes, the root entry, directory slashes, xattrs', async () => {
    const src = join(work, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'sub/tool'), 'bin');
    fsNative().lsetxattr(join(src, 'sub/tool'), 'security.capability', capNetRawBlob());
    fsNative().lsetxattr(join(src, 'sub/tool'), 'user.binary', binaryXattr);
    await symlink('sub/tool', join(src, 'link'));
    for (const path of ['sub/tool', 'sub', '.']) await utimes(join(src, path), 1_600_000_000, 1_600_000_000);
    const blob = execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--sort=name', '-cf', '-', '-C', src, '.']);
    const changes = (await readAll(blob)) as { entry: LayerEntry & { text?: string } }[];
    expect(changes.map((c) => [c.entry.path, c.entry.type])).toEqual([
      ['link', 'symlink'],
      ['sub', 'directory'],
      ['sub/tool', 'file'],
    ]);
    expect(changes[2].entry.text).toBe('bin');
    expect(changes[2].entry.xattrs).toEqual({ 'security.capability': capNetRawBlob(), 'user.binary': binaryXattr });
    expect(changes[2].entry.mtime).toBe(1_600_000_000);
  });

  test('a consumer that stops early releases the input', async () => {
    const blob = await layer([file('a', 'a'), file('b', 'b'.repeat(1 << 20))], 'gzip');
    const input = Readable.from([blob.subarray(0, 100), blob.subarray(100)]);
    for await (const change of readLayer(input)) {
      expect(change.kind === 'entry' && change.entry.path).toBe('a');
      break;
    }
    expect(input.destroyed).toBe(true);
  });

  test('drains content the consumer left unread', async () => {
    const blob = await layer([file('a', 'a'.repeat(100_000)), file('b', 'second')], 'gzip');
    const seen: string[] = [];
    for await (const change of readLayer(Readable.from([blob]))) {
      if (change.kind !== 'entry') continue;
      seen.push(change.entry.path === 'b' ? (await collect(change.entry.content!)).toString() : change.entry.path);
    }
    expect(seen).toEqual(['a', 'second']);
  });

  test.each(['none', 'gzip', 'zstd'] as const)('a truncated layer is an error, not a hang (%s)', async (compression) => {
    const blob = await layer([file('a', 'random '.repeat(20_000)), file('b', 'b')], compression);
    await expect(readAll(blob.subarray(0, Math.floor(blob.length / 2)))).rejects.toThrow(/layer is truncated/);
  });

  test('bytes that are not a tar archive are reported as such', async () => {
    const garbage = Buffer.alloc(4096, 'not a tar header ');
    await expect(readAll(garbage)).rejects.toThrow(/not a tar archive/);
    await expect(readAll(gzipSync(garbage))).rejects.toThrow(/not a tar archive/);
    await expect(readAll(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02]))).rejects.toThrow(LayerFormatError);
  });

  test('a whiteout that names no file is rejected', async () => {
    for (const name of ['dir/.wh.', '.wh..', 'dir/.wh...']) {
      const pack = tar.pack();
      pack.entry({ name }, Buffer.alloc(0));
      pack.entry({ name: 'after' }, Buffer.alloc(1 << 20));
      pack.finalize();
      await expect(readAll(await collect(pack as unknown as Readable))).rejects.toThrow(/invalid whiteout/);
    }
  });

  test('a file of many chunks reaches a slow consumer whole, and one left half read is skipped', async () => {
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i++) big[i] = 0x20 + ((i * 7919) % 95);
    const blob = await layer([file('big', big.toString()), file('half', 'h'.repeat(1 << 20)), file('last', 'end')], 'gzip');
    const seen: string[] = [];
    for await (const change of readLayer(Readable.from([blob]))) {
      if (change.kind !== 'entry') continue;
      const content = change.entry.content!;
      if (change.entry.path === 'big') {
        const chunks: Buffer[] = [];
        for await (const chunk of content) {
          chunks.push(chunk as Buffer);
          await new Promise((resolve) => setImmediate(resolve));
        }
        expect(Buffer.concat(chunks).equals(big)).toBe(true);
      } else if (change.entry.path === 'half') {
        content.read(1000);
      } else {
        seen.push((await collect(content)).toString());
      }
      seen.push(change.entry.path);
    }
    expect(seen).toEqual(['big', 'half', 'end', 'last']);
  });

  test('a sparse file GNU tar wrote is one entry: logical size, data regions, content only their bytes', async () => {
    const file = join(work, 'holes');
    execFileSync('truncate', ['-s', '1G', file]);
    execFileSync('dd', ['if=/dev/urandom', `of=${file}`, 'bs=4096', 'count=2', 'seek=100000', 'conv=notrunc'], { stdio: 'ignore' });
    const data = execFileSync('dd', [`if=${file}`, 'bs=4096', 'count=2', 'skip=100000'], { stdio: ['ignore', 'pipe', 'ignore'] });
    for (const format of ['--format=gnu', '--format=pax']) {
      const blob = gzipSync(execFileSync('tar', [format, '--sparse', '-cf', '-', '-C', work, 'holes']));
      const changes = [];
      for await (const change of readLayer(Readable.from([blob]))) {
        const content = change.kind === 'entry' && change.entry.content ? await collect(change.entry.content) : undefined;
        changes.push({ change, content });
      }
      expect(changes).toHaveLength(1);
      const { change, content } = changes[0]!;
      expect(change).toMatchObject({ kind: 'entry', entry: { path: 'holes', type: 'file', size: 1024 ** 3 } });
      const { sparse } = (change as { entry: LayerEntry }).entry;
      expect(sparse!.reduce((sum, r) => sum + r.length, 0)).toBe(content!.length);
      const at = sparse!.findIndex((r) => r.offset <= 100000 * 4096 && r.offset + r.length >= 100002 * 4096);
      const before = sparse!.slice(0, at).reduce((sum, r) => sum + r.length, 0) + (100000 * 4096 - sparse![at]!.offset);
      expect(content!.subarray(before, before + data.length).equals(data)).toBe(true);
    }
  });

  test.each([
    ['-1536', 'x'.repeat(2000), /tar member "victim" has size -1536, out of range/],
    ['-512', 'x'.repeat(600), /tar member "victim" has size -512, out of range/],
    ['99999999999999999999', '', /size="99999999999999999999" is no integer/],
  ])('a PAX size of %s is a LayerFormatError, not a loop', async (size, content, message) => {
    const blob = await rawTar([{ name: 'victim', pax: { size }, content }, { name: 'after', content: 'a' }]);
    await expect(readAll(gzipSync(blob))).rejects.toThrow(/^layer is corrupt: /);
    await expect(readAll(gzipSync(blob))).rejects.toThrow(message);
  });

  test('a member type a layer cannot hold is rejected', async () => {
    const pack = tar.pack();
    pack.entry({ name: 'ok' }, Buffer.from('fine'));
    pack.finalize();
    const blob = await collect(pack as unknown as Readable);
    // Typeflag 'V' (a GNU volume label), checksum adjusted.
    const header = blob.subarray(0, 512);
    header[156] = 'V'.charCodeAt(0);
    header.fill(' ', 148, 156);
    header.write(`${header.reduce((sum, byte) => sum + byte, 0).toString(8).padStart(6, '0')}\0 `, 148);
    await expect(readAll(blob)).rejects.toThrow(/unsupported tar type "V"/);
  });

  test('wholeFilesUpTo: small files come whole through read(), larger ones as streams, and what nobody reads is skipped', async () => {
    const blob = await layer(
      [file('a', 'small'), file('b', 'x'.repeat(100_000)), file('c', 'left unread'), file('d', ''), file('e', 'last')],
      'gzip',
    );
    const seen: string[] = [];
    for await (const change of readLayer(Readable.from([blob]), { wholeFilesUpTo: 1000 })) {
      if (change.kind !== 'entry') continue;
      const { path, read, content } = change.entry;
      if (path === 'c') continue;
      if (path === 'b') {
        expect(read).toBeUndefined();
        seen.push(`${path}:stream:${(await collect(content!)).length}`);
      } else {
        expect(content).toBeUndefined();
        seen.push(`${path}:whole:${(await read!()).toString()}`);
      }
    }
    expect(seen).toEqual(['a:whole:small', 'b:stream:100000', 'd:whole:', 'e:whole:last']);
  });

  test('wholeFilesUpTo: a layer cut off inside a small file fails its read() with LayerFormatError', async () => {
    const blob = await rawTar([{ name: 'a', content: 'x'.repeat(3000) }]);
    const reading = (async () => {
      for await (const change of readLayer(Readable.from([blob.subarray(0, 1024)]), { wholeFilesUpTo: 4096 })) {
        if (change.kind === 'entry') await change.entry.read!();
      }
    })();
    await expect(reading).rejects.toThrow(LayerFormatError);
  });
});

describe('scanLayer', () => {
  /** What scanLayer reports, in the shape readAll gives for readLayer. */
  async function scanAll(blob: Buffer): Promise<unknown[]> {
    const result: unknown[] = [];
    let pieces: Buffer[] = [];
    await scanLayer(Readable.from([blob]), {
      change(change) {
        result.push(change);
        pieces = [];
      },
      content: (piece) => pieces.push(Buffer.from(piece)),
      contentEnd() {
        const last = result[result.length - 1] as { entry: LayerEntry & { text?: string } };
        last.entry.text = Buffer.concat(pieces).toString();
      },
    });
    return result;
  }

  test.each(['none', 'gzip', 'zstd'] as const)('reports what readLayer reads (%s)', async (compression) => {
    const blob = await layer(
      [
        entry('etc', { type: 'directory', mode: 0o755 }),
        file('etc/hosts', 'localhost\n', { xattrs: { 'security.capability': binaryXattr } }),
        file(longPath, 'x'.repeat(300_000)),
        entry('etc/link', { type: 'symlink', linkname: 'hosts' }),
        file('empty', ''),
        { kind: 'whiteout', path: 'var/old' },
        { kind: 'opaque', path: 'opt' },
      ],
      compression,
    );
    expect(await scanAll(blob)).toEqual(await readAll(blob));
  });

  test('errors of the visitor pass through as they are', async () => {
    const blob = await layer([file('a', 'a'), file('b', 'b')], 'gzip');
    const mine = new Error('visitor says no');
    const visitor = {
      change(change: LayerChange) {
        if (change.kind === 'entry' && change.entry.path === 'b') throw mine;
      },
      content() {},
      contentEnd() {},
    };
    await expect(scanLayer(Readable.from([blob]), visitor)).rejects.toBe(mine);
  });

  test.each(['none', 'gzip', 'zstd'] as const)('a truncated layer is a LayerFormatError (%s)', async (compression) => {
    const blob = await layer([file('a', 'random '.repeat(20_000)), file('b', 'b')], compression);
    await expect(scanAll(blob.subarray(0, Math.floor(blob.length / 2)))).rejects.toThrow(LayerFormatError);
    await expect(scanAll(blob.subarray(0, Math.floor(blob.length / 2)))).rejects.toThrow(/layer is truncated/);
  });

  test('bytes that are not a tar archive are reported as such', async () => {
    await expect(scanAll(gzipSync(Buffer.alloc(4096, 'not a tar header ')))).rejects.toThrow(/not a tar archive/);
  });
});
