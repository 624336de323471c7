import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalStore, parseDigest } from '@tsbuild/oci-layout';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;

async function build(dockerfile: string, ...args: string[]) {
  const context = await dirs.make();
  await writeFile(join(context, 'Dockerfile'), dockerfile);
  await writeFile(join(context, 'a'), 'a');
  return tsbuild(['--root', root, 'build', ...args, context], { cwd: context });
}

beforeAll(async () => {
  root = await dirs.make();
  // Nothing listens on port 1: the registry of this name refuses connections, every time.
  await importBusybox(root, '127.0.0.1:1/debian:bookworm');
}, 120_000);
afterAll(() => dirs.cleanup());

describe('errors that say what is wrong', () => {
  it('a variable doubled line after line (ENV A=$A$A) is refused in one line, not expanded until memory runs out', async () => {
    const doubling = ['FROM scratch', 'ENV A=xxxxxxxxxxxxxxxx', ...Array.from({ length: 60 }, () => 'ENV A=$A$A'), 'COPY a /a'].join('\n');
    const out = await build(`${doubling}\n`);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe('tsbuild: error: Dockerfile:21:1: ENV: variable expansion makes more than 4194304 characters\n');
  });

  it('FROM a name in neither the store nor a reachable registry says so and suggests the nearest stored name', async () => {
    const out = await build('FROM 127.0.0.1:1/debian:bookwrm\nRUN true\n');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^tsbuild: error: Dockerfile:1:1: FROM: base image "127\.0\.0\.1:1\/debian:bookwrm": neither in the store nor in a reachable registry \(pull: .*ECONNREFUSED.*\); did you mean "127\.0\.0\.1:1\/debian:bookworm"\?\n$/);
  });

  it('COPY --from a name that is no stage and no pullable image says it is neither, and suggests the stage', async () => {
    const out = await build('FROM scratch AS builder\nCOPY a /a\nFROM scratch\nCOPY --from=buidler /a /b\n');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^tsbuild: error: Dockerfile:4:1: COPY: --from="buidler" is neither a stage of this Dockerfile nor an image in the store or a reachable registry \(pull: [^\n]*\); did you mean the stage "builder"\?\n$/);
  });

  it('FROM an image ID prefix that starts two stored IDs says it is ambiguous and pulls nothing', async () => {
    const ambiguousRoot = await dirs.make();
    const store = await LocalStore.open(ambiguousRoot);
    await store.layout.updateIndex((index) => ({
      ...index,
      manifests: ['1', '2'].map((fill) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: parseDigest(`sha256:abcd${fill.repeat(60)}`), size: 2 })),
    }));
    const context = await dirs.make();
    await writeFile(join(context, 'Dockerfile'), 'FROM abcd\n');
    const out = await tsbuild(['--root', ambiguousRoot, 'build', context], { cwd: context });
    expect(out.code).toBe(1);
    expect(out.stdout).not.toMatch(/Pulling/);
    expect(out.stderr).toBe('tsbuild: error: Dockerfile:1:1: FROM: base image "abcd": image ID prefix "abcd" is ambiguous\n');
  });

  it('ONBUILD triggers are numbered within the FROM step that brings them', async () => {
    const base = await build('FROM 127.0.0.1:1/debian:bookworm\nONBUILD COPY a /from-trigger\nONBUILD RUN echo triggered\n', '-q', '-t', 'onbuild-base');
    expect(base.code).toBe(0);
    const out = await build('FROM onbuild-base\nRUN cat /from-trigger\n');
    expect(out.stderr).toBe('');
    expect(out.stdout).toMatch(new RegExp([
      'STEP 1/2: FROM onbuild-base',
      'STEP 1/2 ONBUILD 1/2: COPY a /from-trigger',
      'STEP 1/2 ONBUILD 2/2: RUN echo triggered',
      '\\[STEP 1/2 ONBUILD 2/2\\] triggered',
      'STEP 2/2: RUN cat /from-trigger',
      '\\[STEP 2/2\\] a',
    ].join('\n')));
    await tsbuildOk(['--root', root, 'rmi', 'onbuild-base']);
  });
});
