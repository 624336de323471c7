import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { pack as tarPack, type Header } from 'tar-stream';

/** One member of a test layer; a `.wh.` name or `.wh..wh..opq` is written as-is (whiteouts are plain tar entries). */
export interface TestEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink';
  content?: string;
  mode?: number;
  linkname?: string;
}

export interface TestLayer {
  createdBy: string;
  entries: TestEntry[];
  /** The layer as tar bytes made elsewhere (then `entries` is not used). */
  tar?: Buffer;
}

type TarHeader = Partial<Header> & { name: string };

async function tarOf(members: { header: TarHeader; body?: Buffer }[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const m of members) {
    await new Promise<void>((resolve, reject) => pack.entry(m.header, m.body ?? Buffer.alloc(0), (e) => (e ? reject(e) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

function layerMembers(entries: TestEntry[]) {
  return entries.map((e) => {
    const type = e.type ?? 'file';
    const body = type === 'file' ? Buffer.from(e.content ?? '') : undefined;
    const header: TarHeader = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: 0,
      gid: 0,
      mtime: new Date(0),
      size: body?.length ?? 0,
    };
    if (e.linkname !== undefined) header.linkname = e.linkname;
    return body ? { header, body } : { header };
  });
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * Writes a `docker save` style archive (manifest.json, config, one
 * `<dir>/layer.tar` per layer) to `file`; `gzipLayers` stores the layers
 * gzip-compressed, as some tools do.
 */
export async function writeDockerArchive(file: string, layers: TestLayer[], opts: { gzipLayers?: boolean } = {}): Promise<void> {
  const members: { header: TarHeader; body?: Buffer }[] = [];
  const diffIds: string[] = [];
  const layerPaths: string[] = [];
  for (const [i, layer] of layers.entries()) {
    const tar = layer.tar ?? (await tarOf(layerMembers(layer.entries)));
    diffIds.push(sha256(tar));
    const body = opts.gzipLayers ? gzipSync(tar) : tar;
    const path = `layer${i}/layer.tar${opts.gzipLayers ? '.gz' : ''}`;
    layerPaths.push(path);
    members.push({ header: { name: path, type: 'file', mode: 0o644, size: body.length, mtime: new Date(0) }, body });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: layers.flatMap((l, i) => [{ created_by: `/bin/sh -c ${l.createdBy}` }, ...(i === 0 ? [{ created_by: 'ENV A=1', empty_layer: true }] : [])]),
    }),
  );
  members.push({ header: { name: 'config.json', type: 'file', mode: 0o644, size: config.length, mtime: new Date(0) }, body: config });
  const manifest = Buffer.from(JSON.stringify([{ Config: 'config.json', RepoTags: ['test/fixture:latest'], Layers: layerPaths }]));
  members.push({ header: { name: 'manifest.json', type: 'file', mode: 0o644, size: manifest.length, mtime: new Date(0) }, body: manifest });
  await writeFile(file, await tarOf(members));
}
