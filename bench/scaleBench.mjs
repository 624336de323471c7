// Issue 14's scale group: a generated monorepo-like context (BENCH_SCALE_FILES, 200,000 files of
// ~1 KiB, 500 to a directory; BENCH_SCALE_MILLION=1 adds 1,000,000), `FROM scratch` / `COPY tree /tree`,
// side by side in one run: tsbuild cold, unchanged and one-changed builds, buildah bud --layers
// (vfs, its own root) cold, the `tar -c | gzip -1` floor; `tsbuild bundle` against `tar -xzf` of
// the same layer; the peak RSS of build, bundle and tsdive --json at each size.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ratioTarget, rssTarget, summarise, workTarget } from './benchReport.mjs';
import { buildahStorage } from './debianBase.mjs';
import { startupCase } from './debianBuildBench.mjs';
import { benchCase, emptyOutput, removeTree, runRounds } from './runRounds.mjs';
import { treeStats } from './treeStats.mjs';

const MiB = 1024 * 1024;
const IMAGE = 'scale';
const FILES_PER_DIR = 500;
const FILE_BYTES = 1024;

/** `files` files of FILE_BYTES each, FILES_PER_DIR to a directory, under DIR/tree, and the Dockerfile. */
function writeContext(dir, files) {
  const body = Buffer.alloc(FILE_BYTES);
  for (let d = 0, n = 0; n < files; d++) {
    const sub = join(dir, 'tree', `pkg${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < FILES_PER_DIR && n < files; f++, n++) {
      body.fill(`file ${n} of package ${d}\n`);
      writeFileSync(join(sub, `f${f}.js`), body);
    }
  }
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY tree /tree\n');
}

/** The blob of the image's only layer in a tsbuild store. */
function layerBlob(root) {
  const oci = join(root, 'oci');
  const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8'));
  const blob = (digest) => join(oci, 'blobs', ...digest.split(':'));
  const manifest = JSON.parse(readFileSync(blob(index.manifests.at(-1).digest), 'utf8'));
  return blob(manifest.layers[0].digest);
}

const usedCache = (run) => /Using cache/.test(run.outputTail);

async function sizeRows(ctx, files) {
  const tag = files >= 1e6 ? `${files / 1e6}M` : `${files / 1e3}k`;
  const work = join(ctx.work, `scale-${tag}`);
  const contextDir = join(work, 'context');
  ctx.progress(`writing ${files} files under ${contextDir}`);
  writeContext(contextDir, files);
  const tsbuild = (root, ...args) => ['node', ctx.tsbuildBin, '--root', root, ...args];
  const build = (root) => tsbuild(root, 'build', '-t', IMAGE, contextDir);
  const store = join(work, 'tsbuild');
  const keep = () => undefined;
  const changed = join(contextDir, 'tree', 'pkg0', 'f0.js');
  let edits = 0;
  const builds = [
    benchCase({ key: `floor-${tag}`, tool: 'GNU tar + gzip', caseName: `${tag}: tar -c \\| gzip -1 (floor)`, root: join(work, 'floor'),
      before: (root) => { emptyOutput(root); mkdirSync(root); },
      argv: (root) => ['sh', '-c', `tar -C "${contextDir}" -c tree | gzip -1 > "${join(root, 'tree.tgz')}"`] }),
    benchCase({ key: `buildah-${tag}`, tool: 'buildah', caseName: `${tag}: bud --layers, vfs, cold`, root: join(work, 'buildah'),
      argv: (root) => [...buildahStorage(root), 'bud', '--layers', '--isolation', 'chroot', '-q', '-t', IMAGE, contextDir] }),
    benchCase({ key: `cold-${tag}`, tool: 'tsbuild', caseName: `${tag}: build, cold`, anchor: `buildah-${tag}`, root: store, argv: build,
      check: (run) => (usedCache(run) ? 'a cold build used the cache' : undefined) }),
    benchCase({ key: `unchanged-${tag}`, tool: 'tsbuild', caseName: `${tag}: rebuild, unchanged`, root: store, before: keep, argv: build,
      check: (run) => (usedCache(run) ? undefined : 'missed the cache') }),
    benchCase({ key: `changed-${tag}`, tool: 'tsbuild', caseName: `${tag}: rebuild after one changed file`, anchor: `floor-${tag}`, root: store,
      before: () => writeFileSync(changed, `edit ${++edits}\n`.padEnd(FILE_BYTES, '.')),
      argv: build, check: (run) => (usedCache(run) ? 'a changed file was not noticed' : undefined) }),
  ];
  await runRounds(builds, ctx);
  const blob = layerBlob(store);
  // Every unpack run writes a tree of its own into a new directory, and the trees are deleted after
  // the last run. Deleting one before the next run would slow that run's creates by factors: ext4
  // without a journal (this machine's) skips, when it allocates an inode, those deleted in the last
  // minute (longer while their inode table block is unwritten), one buffer lookup each
  // (`recently_deleted` under find_inode_bit, seen with perf), so the run after a deletion of
  // 200,000 files pays for it, more the more deletions the minutes before it saw.
  const unpackRoots = [join(work, 'untar'), join(work, 'bundle')];
  let unpackRun = 0;
  const freshRoot = (c) => () => {
    c.root = join(c.base, `run${++unpackRun}`);
    mkdirSync(c.root, { recursive: true });
  };
  const untar = benchCase({ key: `untar-${tag}`, tool: 'tar -xzf', caseName: `${tag}: tar -xzf of the layer (floor)`, base: unpackRoots[0],
    argv: (root) => ['tar', '-xzf', blob, '-C', root] });
  const bundle = benchCase({ key: `bundle-${tag}`, tool: 'tsbuild', caseName: `${tag}: bundle`, anchor: `untar-${tag}`, base: unpackRoots[1],
    argv: (root) => tsbuild(store, 'bundle', IMAGE, root),
    check: () => {
      const unpacked = treeStats(join(bundle.root, 'rootfs', 'tree')).files;
      return unpacked === files ? undefined : `the bundle holds ${unpacked} files, expected ${files}`;
    } });
  const unpacks = [untar, bundle];
  for (const c of unpacks) c.before = freshRoot(c);
  // Alternated (tar first in odd rounds, bundle first in even ones): drift over a round falls on both alike.
  await runRounds(unpacks, ctx, { alternate: true });
  for (const root of unpackRoots) removeTree(root);
  const dive = benchCase({ key: `dive-${tag}`, tool: 'tsdive', caseName: `${tag}: --json`, root: join(work, 'dive'),
    before: (root) => { emptyOutput(root); mkdirSync(root); },
    argv: (root) => ['node', ctx.tsdiveBin, '--root', store, '--json', join(root, 'dive.json'), IMAGE] });
  await runRounds([dive], ctx);
  return [...builds, ...unpacks, dive].map(summarise);
}

export async function scaleGroup(ctx) {
  const sizes = [Math.round(ctx.positiveEnv('BENCH_SCALE_FILES', 200000)), ...(process.env.BENCH_SCALE_MILLION === '1' ? [1000000] : [])];
  const startup = startupCase(ctx, 'scale-startup');
  await runRounds([startup], ctx);
  const rows = [summarise(startup)];
  const targets = [];
  for (const files of sizes) {
    const tag = files >= 1e6 ? `${files / 1e6}M` : `${files / 1e3}k`;
    const sized = await sizeRows(ctx, files);
    rows.push(...sized);
    targets.push(
      ratioTarget(sized, `cold-${tag}`, 0.3, `${tag} cold build (#14)`),
      ratioTarget(sized, `cold-${tag}`, 2, `${tag} cold build (#14)`, `floor-${tag}`),
      workTarget(rows, `unchanged-${tag}`, 'scale-startup', 2, `${tag} unchanged rebuild (#14)`),
      ratioTarget(sized, `changed-${tag}`, 1.5, `${tag} one-changed rebuild (#14)`),
      ratioTarget(sized, `bundle-${tag}`, 1.1, `${tag} unpack (#14)`),
      rssTarget(sized.filter((r) => r.tool === 'tsbuild' || r.tool === 'tsdive'), 250 * 1000 * 1000, `${tag} build/bundle/tsdive (#14)`,
        'every tsbuild and tsdive row', '250 MB'),
    );
  }
  return {
    title: 'Scale: many small files (#14)',
    parameters: `Contexts of ${sizes.join(' and ')} files of ${FILE_BYTES} bytes, ${FILES_PER_DIR} to a directory; `
      + '`FROM scratch` / `COPY tree /tree`, gzip (the default). The one-changed rebuild rewrites one file before each run.',
    rows,
    targets,
  };
}
