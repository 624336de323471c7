import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tsbuild } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

async function build(dockerfile: string) {
  const root = await dirs.make();
  const context = await dirs.make();
  await writeFile(join(context, 'Dockerfile'), dockerfile);
  await writeFile(join(context, 'a'), 'a');
  return tsbuild(['--root', root, 'build', context], { cwd: context });
}

describe('COPY flags the executor does not honour yet', () => {
  it('COPY --parents is refused with the line named, not ignored', async () => {
    const out = await build('FROM scratch\nCOPY --parents ./a /out/\n');
    expect(out.code).toBe(1);
    expect(out.stderr).toBe('tsbuild: error: Dockerfile:2:1: COPY: --parents is not supported yet\n');
  });

  it('COPY --exclude is refused with the line named, not ignored', async () => {
    const out = await build('FROM scratch\nCOPY --exclude=*.md . /out/\n');
    expect(out.code).toBe(1);
    expect(out.stderr).toBe('tsbuild: error: Dockerfile:2:1: COPY: --exclude is not supported yet\n');
  });
});
