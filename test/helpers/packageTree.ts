import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A small monorepo-like context: `tree/a` and `tree/b`, each with `files` files f0.txt... of a line naming it. */
export async function writePackageTree(context: string, files: number): Promise<void> {
  for (const pkg of ['a', 'b']) {
    await mkdir(join(context, 'tree', pkg), { recursive: true });
    for (let i = 0; i < files; i++) await writeFile(join(context, 'tree', pkg, `f${i}.txt`), `package ${pkg} file ${i}\n`);
  }
}
