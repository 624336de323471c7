import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { readdirIfExists } from '@tsbuild/oci-layout';

/** Every blob file in a store must hash to its own name (a store with no blobs yet passes). */
export async function expectStoreIntact(store: string): Promise<void> {
  const dir = join(store, 'oci', 'blobs', 'sha256');
  for (const name of await readdirIfExists(dir)) {
    expect(createHash('sha256').update(await readFile(join(dir, name))).digest('hex')).toBe(name);
  }
}
