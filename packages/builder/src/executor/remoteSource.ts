import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestingStream, parseDigest, digestAlgorithm, type Digest } from '@tsbuild/oci-layout';
import type { CopyOp } from '../dockerfile/stageState.js';

export interface RemoteFile {
  url: string;
  /** Where the download lies, in a scratch directory of the build. */
  path: string;
  /** The file name ADD uses when the destination is a directory. */
  name: string;
  digest: Digest;
  /** From Last-Modified, in seconds, as BuildKit keeps it. */
  mtime?: number;
}

export function isRemoteSource(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/**
 * Downloads an `ADD https://...` source to a file, hashing it on the way;
 * with `--checksum` the content must match or the step fails.
 */
export async function downloadRemote(url: string, scratchDir: string, checksum?: string): Promise<RemoteFile> {
  const expected = checksum ? parseDigest(checksum) : undefined;
  const response = await fetch(url, { redirect: 'follow' }).catch((e: Error) => {
    throw new Error(`cannot download ${url}: ${(e.cause as Error | undefined)?.message ?? e.message}`);
  });
  if (!response.ok || !response.body) throw new Error(`cannot download ${url}: HTTP ${response.status} ${response.statusText}`);
  const dir = await mkdtemp(join(scratchDir, 'add-url-'));
  const path = join(dir, 'download');
  const hasher = new DigestingStream(expected ? digestAlgorithm(expected) : 'sha256');
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), hasher, createWriteStream(path));
  if (expected && hasher.digest !== expected) {
    throw new Error(`checksum of ${url} does not match: expected ${expected}, got ${hasher.digest}`);
  }
  const lastModified = Date.parse(response.headers.get('last-modified') ?? '');
  const name = posix.basename(new URL(response.url || url).pathname) || 'index.html';
  return { url, path, name, digest: hasher.digest, ...(Number.isNaN(lastModified) ? {} : { mtime: Math.floor(lastModified / 1000) }) };
}

/** A build's `ADD https://...` sources: each URL is downloaded once per build, for both the cache key and the layer. */
export class RemoteDownloads {
  private readonly files = new Map<string, RemoteFile>();

  constructor(private readonly scratchDir: string) {}

  /** The downloads of an ADD's URL sources (none for a COPY, or an ADD --from). */
  async of(op: CopyOp): Promise<RemoteFile[]> {
    if (!op.isAdd || op.from !== undefined) return [];
    const files: RemoteFile[] = [];
    for (const url of op.sources.filter(isRemoteSource)) {
      const key = `${url} ${op.checksum ?? ''}`;
      let file = this.files.get(key);
      if (!file) {
        file = await downloadRemote(url, this.scratchDir, op.checksum);
        this.files.set(key, file);
      }
      files.push(file);
    }
    return files;
  }

  /** Removes what was downloaded. */
  async remove(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => rm(dirname(f.path), { recursive: true, force: true })));
  }
}
