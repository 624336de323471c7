import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tsbuild } from './tsbuildCli.js';

/** Builds a one-layer image of `size` random bytes (FROM scratch) in `context` into the store at `root` as `name`; returns its digest. */
export async function buildRandomImage(root: string, name: string, context: string, size = 500): Promise<string> {
  await writeFile(join(context, 'f'), randomBytes(size));
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY f /f\n');
  const r = await tsbuild(['--root', root, '-q', '-t', name, context]);
  if (r.code !== 0) throw new Error(`building ${name} failed: ${r.stderr}`);
  return r.stdout.trim();
}
