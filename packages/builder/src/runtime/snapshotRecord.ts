import { createHash, randomBytes, type Hash } from 'node:crypto';
import { lstat, readdir, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonIfExists, withNoSpacePath, type Digest } from '@tsbuild/oci-layout';

/**
 * What a snapshot directory held when it was made: its chain ID and a digest
 * of its listing (every entry's name bytes, type, mode, owner, file size,
 * link target and device number), written before the directory is moved into
 * place. A snapshot is a lower layer of every later RUN on that image, so one
 * changed behind our back (a file lost, truncated, replaced) would silently
 * change every build made on it; `system check` compares the two.
 */
export interface SnapshotRecord {
  chainId: Digest;
  listing: string;
  entries: number;
}

/** Walks `dir` in byte order of names, hashing what each entry is; only one directory's names are held at a time. */
export async function listingDigest(dir: string): Promise<{ listing: string; entries: number }> {
  const hash = createHash('sha256');
  let entries = 0;
  const visit = async (abs: Buffer, rel: Buffer): Promise<void> => {
    const names = (await readdir(abs, { encoding: 'buffer' })).sort(Buffer.compare);
    for (const name of names) {
      const childAbs = Buffer.concat([abs, Buffer.from('/'), name]);
      const childRel = rel.length > 0 ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      const st = await lstat(childAbs);
      entries++;
      describe(hash, childRel, st.mode, st.uid, st.gid, st.isFile() ? st.size : 0, st.rdev);
      if (st.isSymbolicLink()) hash.update(await readlink(childAbs, { encoding: 'buffer' }));
      hash.update('\n');
      if (st.isDirectory()) await visit(childAbs, childRel);
    }
  };
  await visit(Buffer.from(dir), Buffer.alloc(0));
  return { listing: `sha256:${hash.digest('hex')}`, entries };
}

function describe(hash: Hash, rel: Buffer, mode: number, uid: number, gid: number, size: number, rdev: number): void {
  hash.update(rel);
  hash.update(`\0${mode.toString(8)} ${uid}:${gid} ${size} ${rdev}\0`);
}

export async function writeSnapshotRecord(path: string, record: SnapshotRecord): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, `${JSON.stringify(record)}\n`, { flush: true });
    await rename(tmp, path);
  } catch (e) {
    throw withNoSpacePath(e, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

export class SnapshotRecordError extends Error {}

/** The record at `path`, or undefined when there is none. */
export async function readSnapshotRecord(path: string): Promise<SnapshotRecord | undefined> {
  const parsed = await readJsonIfExists(path, (e) => new SnapshotRecordError(`${path} is not valid JSON: ${e.message}`));
  if (parsed === undefined) return undefined;
  const r = parsed as Partial<SnapshotRecord>;
  if (typeof r.chainId !== 'string' || typeof r.listing !== 'string' || typeof r.entries !== 'number') {
    throw new SnapshotRecordError(`${path} is not a snapshot record`);
  }
  return { chainId: r.chainId as Digest, listing: r.listing, entries: r.entries };
}

export function recordPathIn(recordsDir: string, snapshotName: string): string {
  return join(recordsDir, `${snapshotName}.json`);
}
