import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readdirIfExists, type LocalStore, type StoreProblem } from '@tsbuild/oci-layout';
import { listingDigest, readSnapshotRecord, SnapshotRecordError } from '../runtime/snapshotRecord.js';
import { Snapshotter } from '../runtime/snapshotter.js';

/**
 * Compares every snapshot under `<store>/cache/snapshots` with the record
 * written when it was made. A snapshot is a cache of a layer blob, so repair
 * removes a damaged one (and a record whose snapshot is gone); the next build
 * that needs it unpacks it again. While the store is `busy` (a live lease), a
 * record without its snapshot may be one that is about to be moved into place.
 */
export async function checkSnapshots(store: LocalStore, opts: { repair?: boolean; busy?: boolean } = {}): Promise<{ problems: StoreProblem[]; repaired: string[] }> {
  const snapshotter = new Snapshotter(store);
  const problems: StoreProblem[] = [];
  const repaired: string[] = [];
  const damaged: string[] = [];
  const names = await readdirIfExists(snapshotter.dir);
  for (const name of names) {
    const path = join(snapshotter.dir, name);
    let why: string | undefined;
    try {
      const record = await readSnapshotRecord(snapshotter.recordOf(path));
      if (!record) why = 'has no record of what it holds';
      else if (snapshotter.pathOf(record.chainId) !== path) why = `is recorded as chain ${record.chainId}, which is not its name`;
      else {
        const now = await listingDigest(path);
        if (now.listing !== record.listing) why = `does not match its record (chain ${record.chainId}): ${now.entries} entries now, ${record.entries} when made, or an entry changed`;
      }
    } catch (e) {
      if (!(e instanceof SnapshotRecordError)) throw e;
      why = `has a damaged record: ${e.message}`;
    }
    if (why) {
      problems.push({ kind: 'damaged-snapshot', message: `snapshot ${path} ${why}` });
      damaged.push(path);
    }
  }
  const orphans: string[] = [];
  for (const name of opts.busy ? [] : await readdirIfExists(snapshotter.recordsDir)) {
    if (!names.includes(name.replace(/\.json$/, ''))) orphans.push(join(snapshotter.recordsDir, name));
  }
  for (const path of orphans) problems.push({ kind: 'leftover', message: `${path} records a snapshot that does not exist` });
  if (opts.repair) {
    for (const path of damaged) {
      await rm(path, { recursive: true, force: true });
      await rm(snapshotter.recordOf(path), { force: true });
      repaired.push(`removed damaged snapshot ${path} (it is unpacked again when needed)`);
    }
    for (const path of orphans) {
      await rm(path, { force: true });
      repaired.push(`removed ${path}`);
    }
  }
  return { problems, repaired };
}
