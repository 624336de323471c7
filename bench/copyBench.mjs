// The COPY-heavy group: tsbuild against buildah (build) and umoci (unpack) on one generated
// context of many files. Knobs: BENCH_FILES (20000), BENCH_MB (300, MiB in total).
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ratioTarget, rssTarget, summarise } from './benchReport.mjs';
import { checkedOutput } from './checkedOutput.mjs';
import { writeContextTree } from './contextTree.mjs';
import { cpuProfileSummary, profileTable } from './cpuProfileSummary.mjs';
import { buildahStorage } from './debianBase.mjs';
import { benchCase, runRounds } from './runRounds.mjs';
import { treeStats } from './treeStats.mjs';

const MiB = 1024 * 1024;
const IMAGE = 'bench';
const IMAGE_REF = `localhost/${IMAGE}:latest`;

function buildCases(ctx, contextDir) {
  const tsbuild = (compression) => (root) => ['node', ctx.tsbuildBin, '--root', root, 'build', '-q', '-t', IMAGE, '--compression', compression, contextDir];
  return [
    { key: 'buildah', tool: 'buildah', caseName: 'bud --layers, vfs (stores layers uncompressed)',
      argv: (root) => [...buildahStorage(root), 'bud', '--layers', '--isolation', 'chroot', '-q', '-t', IMAGE, contextDir] },
    { key: 'tsbuild-gzip', tool: 'tsbuild', caseName: 'build, gzip (default)', anchor: 'buildah', argv: tsbuild('gzip') },
    { key: 'tsbuild-zstd', tool: 'tsbuild', caseName: 'build, zstd', anchor: 'buildah', argv: tsbuild('zstd') },
    { key: 'tsbuild-none', tool: 'tsbuild', caseName: 'build, uncompressed', anchor: 'buildah', argv: tsbuild('none') },
  ].map((c) => benchCase({ ...c, root: join(ctx.work, 'build', c.key) }));
}

function unpackCases(ctx, storeOf) {
  const bundle = (key) => (out) => ['node', ctx.tsbuildBin, '--root', storeOf(key), 'bundle', IMAGE, out];
  return [
    { key: 'umoci', tool: 'umoci', caseName: 'unpack, gzip image',
      argv: (out) => ['umoci', 'unpack', '--image', `${join(storeOf('tsbuild-gzip'), 'oci')}:${IMAGE_REF}`, out] },
    { key: 'bundle-gzip', tool: 'tsbuild', caseName: 'bundle, gzip image', anchor: 'umoci', argv: bundle('tsbuild-gzip') },
    { key: 'bundle-zstd', tool: 'tsbuild', caseName: 'bundle, zstd image', anchor: 'umoci', argv: bundle('tsbuild-zstd') },
    { key: 'bundle-none', tool: 'tsbuild', caseName: 'bundle, uncompressed image', anchor: 'umoci', argv: bundle('tsbuild-none') },
  ].map((c) => benchCase({ ...c, root: join(ctx.work, 'unpack', c.key) }));
}

/** A fast wrong answer is no answer: every unpacked rootfs must hold exactly the generated tree. */
function checkUnpacked(cases, expected) {
  for (const c of cases) {
    const got = treeStats(join(c.root, 'rootfs', 'tree'));
    if (got.files !== expected.fileCount || got.bytes !== expected.totalBytes) {
      throw new Error(`${c.tool} ${c.caseName}: rootfs/tree has ${got.files} files, ${got.bytes} bytes; `
        + `expected ${expected.fileCount} files, ${expected.totalBytes} bytes`);
    }
  }
}

function profileTsbuild(ctx, contextDir, storeOf) {
  const sections = [];
  const jobs = [
    ['build, gzip', ['build', '-q', '-t', IMAGE, '--compression', 'gzip', contextDir], join(ctx.work, 'profile-store')],
    ['bundle, gzip image', ['bundle', IMAGE, join(ctx.work, 'profile-bundle')], storeOf('tsbuild-gzip')],
  ];
  for (const [label, args, root] of jobs) {
    const dir = join(ctx.work, 'profiles', label.replace(/\W+/g, '-'));
    checkedOutput(['node', '--cpu-prof', '--cpu-prof-dir', dir, ctx.tsbuildBin, '--root', root, ...args], { cwd: ctx.work });
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    sections.push(`#### CPU profile: tsbuild ${label} (main thread self time)\n\n${profileTable(cpuProfileSummary(join(dir, file)))}`);
  }
  return sections.join('\n\n');
}

export async function copyGroup(ctx) {
  const params = { fileCount: Math.round(ctx.positiveEnv('BENCH_FILES', 20000)), totalMiB: ctx.positiveEnv('BENCH_MB', 300) };
  const contextDir = join(ctx.work, 'context');
  const expected = { fileCount: params.fileCount, totalBytes: Math.round(params.totalMiB * MiB) };
  ctx.progress(`writing ${expected.fileCount} files, ${params.totalMiB} MiB under ${contextDir}`);
  const info = writeContextTree(join(contextDir, 'tree'), expected);
  writeFileSync(join(contextDir, 'Dockerfile'), 'FROM scratch\nCOPY tree /tree\nCMD ["/tree/none"]\n');

  const builds = buildCases(ctx, contextDir);
  await runRounds(builds, ctx);
  const storeOf = (key) => builds.find((b) => b.key === key).root;
  const unpacks = unpackCases(ctx, storeOf);
  await runRounds(unpacks, ctx);
  checkUnpacked(unpacks, expected);

  const rows = [...builds, ...unpacks].map(summarise);
  return {
    title: 'COPY-heavy build and unpack (generated context) (#2, #3)',
    parameters: `${expected.fileCount} files, ${params.totalMiB} MiB in total (largest file ${(info.largestFile / MiB).toFixed(1)} MiB), ${info.directoryCount} directories.`,
    rows,
    targets: [
      ratioTarget(rows, 'tsbuild-gzip', 0.5, 'build (#2; #3 COPY-heavy)'),
      ratioTarget(rows, 'bundle-gzip', 0.5, 'unpack (#2)'),
      rssTarget(rows.filter((r) => r.tool === 'tsbuild'), 300 * MiB, 'build/unpack (#2)', 'every tsbuild row of this group'),
    ],
    extra: process.env.BENCH_PROFILE === '1' ? profileTsbuild(ctx, contextDir, storeOf) : '',
  };
}
