// Counts what a copied tree holds, to check that every tool under test produced the same files.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** { files, bytes } over the regular files below dir. */
export function treeStats(dir) {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files += 1;
    bytes += lstatSync(join(entry.parentPath ?? entry.path, entry.name)).size;
  }
  return { files, bytes };
}
