import { chmod, mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tsbuild, tsbuildOk } from '../helpers/tsbuildCli.js';
import { rootAndContextPerTest } from '../helpers/tempDirs.js';

// COPY/ADD --exclude and COPY --parents as BuildKit's Dockerfile frontend has them: what they
// leave out is neither in the layer nor in the step's cache key.

let root: string;
let context: string;
const dirs = rootAndContextPerTest(async (newRoot, newContext) => {
  root = newRoot;
  context = newContext;
});

async function writeFiles(files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(context, path)), { recursive: true });
    await writeFile(join(context, path), content);
  }
}

/** Builds the Dockerfile over the context; how many steps hit the cache, the image's files (not directories), and its root filesystem. */
async function build(dockerfile: string): Promise<{ cached: number; files: string[]; rootfs: string }> {
  await writeFile(join(context, 'Dockerfile'), dockerfile);
  const r = await tsbuild(['--root', root, 'build', '-t', 'excluded', context]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const bundle = join(await dirs.make(), 'bundle');
  await tsbuildOk(['--root', root, 'bundle', 'excluded', bundle]);
  const rootfs = join(bundle, 'rootfs');
  const entries = await readdir(rootfs, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name).slice(rootfs.length + 1)).sort();
  return { cached: r.stdout.split('--> Using cache').length - 1, files, rootfs };
}

const PROJECT = {
  'README.md': 'readme', 'main.ts': 'main', 'src/a.ts': 'a', 'src/notes.md': 'notes',
  'tests/t.ts': 't', 'docs/guide/g.txt': 'g', 'Dockerfile.md': 'x',
};

describe('COPY --exclude', () => {
  it('leaves out directories with everything below them and files matching any pattern, relative to the source', async () => {
    await writeFiles(PROJECT);
    const { files } = await build('FROM scratch\nCOPY --exclude=tests --exclude=docs --exclude=*.md . /app\n');
    // `*.md` matches in the source directory only, as patternmatcher's `*` stays within one component.
    expect(files).toEqual(['app/Dockerfile', 'app/main.ts', 'app/src/a.ts', 'app/src/notes.md']);
  });

  it('`**` reaches into subdirectories, and patterns are relative to a directory source, not the context', async () => {
    await writeFiles(PROJECT);
    const { files } = await build('FROM scratch\nCOPY --exclude=**/*.md --exclude=a.ts src /src\n');
    expect(files).toEqual([]);
    const all = await build('FROM scratch\nCOPY --exclude=**/*.md . /all/\n');
    expect(all.files).toEqual(['all/Dockerfile', 'all/docs/guide/g.txt', 'all/main.ts', 'all/src/a.ts', 'all/tests/t.ts']);
  });

  it('matches a wildcard source\'s matches relative to the wildcard\'s directory, and a matched directory\'s contents relative to it', async () => {
    await writeFiles({ 'home.txt': '1', 'homer.js': '2', 'homedir/a.txt': '3', 'homedir/b.js': '4', 'other.js': '5' });
    const { files } = await build('FROM scratch\nCOPY --exclude=*.txt hom* /mydir/\n');
    expect(files).toEqual(['mydir/b.js', 'mydir/homer.js']);
  });

  it('ADD --exclude leaves the excluded files out too', async () => {
    await writeFiles({ 'logs/a.log': 'a', 'logs/b.txt': 'b', 'logs/deep/c.log': 'c' });
    const { files } = await build('FROM scratch\nADD --exclude=*.log logs /l/\n');
    expect(files).toEqual(['l/b.txt', 'l/deep/c.log']);
  });

  it('COPY --from=stage --exclude leaves out files of the stage', async () => {
    await writeFiles(PROJECT);
    const { files } = await build('FROM scratch AS s\nCOPY . /s/\nFROM scratch\nCOPY --from=s --exclude=*.md --exclude=docs /s /out\n');
    expect(files).toEqual(['out/Dockerfile', 'out/main.ts', 'out/src/a.ts', 'out/src/notes.md', 'out/tests/t.ts']);
  });

  it('a malformed pattern is an error of its line', async () => {
    await writeFiles({ a: 'a' });
    await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY --exclude=[z-a] . /out/\n');
    const r = await tsbuild(['--root', root, 'build', context], { cwd: context });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tsbuild: error: Dockerfile:2:1: COPY: --exclude: bad pattern "\[z-a\]": reversed range "z-a"[^\n]*\n$/);
  });
});

describe('COPY --exclude and the build cache', () => {
  const DOCKERFILE = 'FROM scratch\nCOPY --exclude=*.md --exclude=docs . /app\n';

  it('a change to an excluded file keeps the hit; other patterns or an included change miss', async () => {
    await writeFiles(PROJECT);
    // A brand-new context: the layer is written first and its key comes from the layer's entries.
    const first = await build(DOCKERFILE);
    expect(first.cached).toBe(0);
    expect(first.files).toEqual(['app/Dockerfile', 'app/main.ts', 'app/src/a.ts', 'app/src/notes.md', 'app/tests/t.ts']);
    // The walk of a known context must give the key the layer-first build gave.
    expect((await build(DOCKERFILE)).cached).toBe(1);
    await writeFiles({ 'README.md': 'changed', 'docs/guide/g.txt': 'changed', 'docs/new.txt': 'new' });
    expect((await build(DOCKERFILE)).cached).toBe(1);
    const otherPatterns = await build('FROM scratch\nCOPY --exclude=*.md . /app\n');
    expect(otherPatterns.cached).toBe(0);
    expect(otherPatterns.files).toContain('app/docs/new.txt');
    await writeFiles({ 'main.ts': 'changed' });
    expect((await build(DOCKERFILE)).cached).toBe(0);
  });

  it('a context new to the hash store honours the excludes in the layer it writes first, and in its key', async () => {
    await writeFiles(PROJECT);
    const first = await build(DOCKERFILE);
    await rm(join(root, 'cache', 'context-hashes'), { recursive: true });
    await writeFiles({ 'README.md': 'changed', 'docs/guide/g.txt': 'changed' });
    const again = await build(DOCKERFILE);
    expect(again.cached).toBe(1);
    expect(again.files).toEqual(first.files);
  });
});

describe('COPY --parents', () => {
  const TREE = {
    'x/a.txt': 'xa', 'x/b.txt': 'xb', 'y/a.txt': 'ya', 'x/y/a.txt': 'xya', 'x/y/b.md': 'xyb', 'x/y/z/c.txt': 'xyzc',
    'src/a.txt': '1', 'src/d/b.txt': '2', 'src/d/e/c.txt': '3', 'src/d/x.md': '4', 'other/o.txt': '5',
  };

  it('keeps each source\'s parent directories', async () => {
    await writeFiles(TREE);
    const { files } = await build('FROM scratch\nCOPY --parents ./x/a.txt ./y/a.txt /parents/\n');
    expect(files).toEqual(['parents/x/a.txt', 'parents/y/a.txt']);
  });

  it('keeps only the parents after a `./` inside the source, as rsync --relative', async () => {
    await writeFiles(TREE);
    const { files } = await build('FROM scratch\nCOPY --parents ./x/./y/*.txt /p/\nCOPY --parents ./x/./ /q/\n');
    expect(files).toEqual(['p/y/a.txt', 'q/a.txt', 'q/b.txt', 'q/y/a.txt', 'q/y/b.md', 'q/y/z/c.txt']);
  });

  it('`**` matches any number of directories, none included; a directory comes with its contents', async () => {
    await writeFiles(TREE);
    const { files } = await build('FROM scratch\nCOPY --parents ./src/**/*.txt /parents/\nCOPY --parents x/y /dir/\n');
    expect(files).toEqual([
      'dir/x/y/a.txt', 'dir/x/y/b.md', 'dir/x/y/z/c.txt',
      'parents/src/a.txt', 'parents/src/d/b.txt', 'parents/src/d/e/c.txt',
    ]);
  });

  it('with --exclude, leaves out what the patterns match below the source\'s base', async () => {
    await writeFiles(TREE);
    const { files } = await build('FROM scratch\nCOPY --parents --exclude=**/*.md --exclude=src/d/e src /p/\n');
    expect(files).toEqual(['p/src/a.txt', 'p/src/d/b.txt']);
  });

  it('COPY --from=stage --parents keeps the parents of the stage\'s files', async () => {
    await writeFiles(TREE);
    const { files } = await build('FROM scratch AS s\nCOPY . /s/\nFROM scratch\nCOPY --from=s --parents /s/./x/*.txt /s/y /p/\n');
    expect(files).toEqual(['p/s/y/a.txt', 'p/x/a.txt', 'p/x/b.txt']);
  });

  it('a change outside what the sources select keeps the hit; a selected one misses', async () => {
    await writeFiles(TREE);
    const dockerfile = 'FROM scratch\nCOPY --parents ./src/**/*.txt /parents/\n';
    expect((await build(dockerfile)).cached).toBe(0);
    // Every file's hash learned: the next key comes from a walk of the context, and must be the layer-first one.
    await build('FROM scratch\nCOPY . /all/\n');
    expect((await build(dockerfile)).cached).toBe(1);
    await writeFiles({ 'src/d/x.md': 'changed', 'other/o.txt': 'changed' });
    expect((await build(dockerfile)).cached).toBe(1);
    await writeFiles({ 'src/d/e/c.txt': 'changed' });
    expect((await build(dockerfile)).cached).toBe(0);
  });

  it('a wildcard before `./`, or a malformed pattern, is refused with the line named', async () => {
    await writeFiles(TREE);
    await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY --parents ./s*/./d /p/\n');
    const r = await tsbuild(['--root', root, 'build', context], { cwd: context });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('tsbuild: error: Dockerfile:2:1: COPY: --parents: a wildcard before "./" is not supported: "./s*/./d"\n');
    await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY . /all/\nCOPY --parents ./src/[z-a] /p/\n');
    const malformed = await tsbuild(['--root', root, 'build', context], { cwd: context });
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/^tsbuild: error: Dockerfile:3:1: COPY: --parents: bad pattern "src\/\[z-a\]": reversed range "z-a"[^\n]*\n$/);
  });
});

describe('parents of what an exception re-includes', () => {
  const MTIME = new Date('2021-03-04T05:06:07Z');

  /** x/ (0750) and x/y/ (0705), both last changed at MTIME, holding x/y/a.txt and x/b.txt. */
  async function writeTree(): Promise<void> {
    await writeFiles({ 'x/y/a.txt': 'a', 'x/b.txt': 'b' });
    await chmod(join(context, 'x'), 0o750);
    await chmod(join(context, 'x/y'), 0o705);
    for (const dir of ['x/y', 'x']) await utimes(join(context, dir), MTIME, MTIME);
  }

  async function modeAndTime(path: string): Promise<[string, string]> {
    const st = await stat(path);
    return [(st.mode & 0o7777).toString(8), st.mtime.toISOString()];
  }

  it('come with their own mode and times, after COPY --parents and after a .dockerignore exception', async () => {
    await writeTree();
    const parents = await build('FROM scratch\nCOPY --parents ./x/y/a.txt /p/\n');
    expect(parents.files).toEqual(['p/x/y/a.txt']);
    expect(await modeAndTime(join(parents.rootfs, 'p/x'))).toEqual(['750', MTIME.toISOString()]);
    expect(await modeAndTime(join(parents.rootfs, 'p/x/y'))).toEqual(['705', MTIME.toISOString()]);
    await writeFile(join(context, '.dockerignore'), '*\n!x/y/a.txt\n');
    const ignored = await build('FROM scratch\nCOPY . /i/\n');
    expect(ignored.files).toEqual(['i/x/y/a.txt']);
    expect(await modeAndTime(join(ignored.rootfs, 'i/x'))).toEqual(['750', MTIME.toISOString()]);
    expect(await modeAndTime(join(ignored.rootfs, 'i/x/y'))).toEqual(['705', MTIME.toISOString()]);
  });

  it('are in the cache key: a mode changed misses, whether the key comes from the layer or from a walk', async () => {
    await writeTree();
    await writeFile(join(context, '.dockerignore'), '*\n!x/y/a.txt\n');
    const dockerfile = 'FROM scratch\nCOPY . /i/\n';
    expect((await build(dockerfile)).cached).toBe(0);
    expect((await build(dockerfile)).cached).toBe(1);
    await chmod(join(context, 'x'), 0o755);
    const changed = await build(dockerfile);
    expect(changed.cached).toBe(0);
    expect((await modeAndTime(join(changed.rootfs, 'i/x')))[0]).toBe('755');
    // A change to what no exception re-includes keeps the hit.
    await writeFiles({ 'x/b.txt': 'changed' });
    expect((await build(dockerfile)).cached).toBe(1);
  });
});
