// `npm run bench`: tsbuild against its anchors (buildah for builds, umoci for unpacking) on the
// same generated context, in one run, reported as ratios. Environment knobs:
//   BENCH_FILES (20000), BENCH_MB (300, MiB in total), BENCH_RUNS (3), BENCH_DIR (os.tmpdir()),
//   BENCH_PROFILE=1 (also CPU-profile one tsbuild build and bundle), BENCH_WRITE_DOC=0 (stdout only).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resultsTable, summarise, targetsTable, writeIntoDoc } from './benchReport.mjs';
import { writeContextTree } from './contextTree.mjs';
import { cpuProfileSummary, profileTable } from './cpuProfileSummary.mjs';
import { measureCommand } from './measureCommand.mjs';
import { treeStats } from './treeStats.mjs';

const MiB = 1024 * 1024;
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsbuildBin = join(repo, 'packages/builder/bin/tsbuild.js');
const docPath = join(repo, 'docs/BENCHMARKS.md');
const IMAGE = 'bench';
const IMAGE_REF = `localhost/${IMAGE}:latest`;
const TARGETS = { maxTimeRatio: 0.5, maxRssBytes: 300 * MiB };

function positiveEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0)) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

const params = {
  fileCount: Math.round(positiveEnv('BENCH_FILES', 20000)),
  totalMiB: positiveEnv('BENCH_MB', 300),
  runs: Math.round(positiveEnv('BENCH_RUNS', 3)),
};

const progress = (line) => process.stderr.write(`bench: ${line}\n`);

function commandOutput(argv, cwd = repo) {
  const result = spawnSync(argv[0], argv.slice(1), { cwd, encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : 'unknown';
}

/** Written data may still be in the page cache; flush it outside the timed region so one
 * tool's writeback does not slow the next tool's run. */
function settle() {
  spawnSync('sync');
}

function buildCases(work, contextDir) {
  const tsbuild = (compression) => (root) => ['node', tsbuildBin, '--root', root, 'build', '-q', '-t', IMAGE, '--compression', compression, contextDir];
  return [
    { key: 'buildah', tool: 'buildah', caseName: 'bud --layers, vfs (stores layers uncompressed)',
      argv: (root) => ['buildah', '--root', join(root, 'storage'), '--runroot', join(root, 'run'), '--storage-driver', 'vfs',
        'bud', '--layers', '--isolation', 'chroot', '-q', '-t', IMAGE, contextDir] },
    { key: 'tsbuild-gzip', tool: 'tsbuild', caseName: 'build, gzip (default)', anchor: 'buildah', target: 'build', argv: tsbuild('gzip') },
    { key: 'tsbuild-zstd', tool: 'tsbuild', caseName: 'build, zstd', anchor: 'buildah', argv: tsbuild('zstd') },
    { key: 'tsbuild-none', tool: 'tsbuild', caseName: 'build, uncompressed', anchor: 'buildah', argv: tsbuild('none') },
  ].map((c) => ({ ...c, root: join(work, 'build', c.key), runs: [] }));
}

function unpackCases(work, storeOf) {
  const bundle = (key) => (out) => ['node', tsbuildBin, '--root', storeOf(key), 'bundle', IMAGE, out];
  return [
    { key: 'umoci', tool: 'umoci', caseName: 'unpack, gzip image',
      argv: (out) => ['umoci', 'unpack', '--image', `${join(storeOf('tsbuild-gzip'), 'oci')}:${IMAGE_REF}`, out] },
    { key: 'bundle-gzip', tool: 'tsbuild', caseName: 'bundle, gzip image', anchor: 'umoci', target: 'unpack', argv: bundle('tsbuild-gzip') },
    { key: 'bundle-zstd', tool: 'tsbuild', caseName: 'bundle, zstd image', anchor: 'umoci', argv: bundle('tsbuild-zstd') },
    { key: 'bundle-none', tool: 'tsbuild', caseName: 'bundle, uncompressed image', anchor: 'umoci', argv: bundle('tsbuild-none') },
  ].map((c) => ({ ...c, root: join(work, 'unpack', c.key), runs: [] }));
}

/** Round-robin over the cases, so drift in the machine's state spreads over every tool alike.
 * Each run starts from an empty output directory and the last run's output is kept. */
async function runRounds(cases, work) {
  for (let round = 1; round <= params.runs; round++) {
    for (const c of cases) {
      rmSync(c.root, { recursive: true, force: true });
      mkdirSync(dirname(c.root), { recursive: true });
      settle();
      const run = await measureCommand(c.argv(c.root), { cwd: work, reportFile: join(work, 'time-report.txt') });
      c.runs.push(run);
      progress(`${c.tool} ${c.caseName} run ${round}/${params.runs}: ${run.wallSeconds.toFixed(2)} s, ${(run.peakRssBytes / MiB).toFixed(0)} MiB`);
    }
  }
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

async function profileTsbuild(work, contextDir, storeOf) {
  const profileDir = join(work, 'profiles');
  const sections = [];
  const jobs = [
    ['build, gzip', ['build', '-q', '-t', IMAGE, '--compression', 'gzip', contextDir], join(work, 'profile-store')],
    ['bundle, gzip image', ['bundle', IMAGE, join(work, 'profile-bundle')], storeOf('tsbuild-gzip')],
  ];
  for (const [label, args, root] of jobs) {
    const dir = join(profileDir, label.replace(/\W+/g, '-'));
    const run = spawnSync('node', ['--cpu-prof', '--cpu-prof-dir', dir, tsbuildBin, '--root', root, ...args], { cwd: work, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`profiled tsbuild ${label} failed:\n${run.stderr}`);
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    sections.push(`#### CPU profile: tsbuild ${label} (main thread self time)\n\n${profileTable(cpuProfileSummary(join(dir, file)))}`);
  }
  return sections.join('\n\n');
}

function header(expected, contextInfo) {
  const tsbuildVersion = JSON.parse(readFileSync(join(repo, 'packages/builder/package.json'), 'utf8')).version;
  return [
    `Run ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} on ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown CPU'}), `
      + `${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${release()}.`,
    `Versions: tsbuild ${tsbuildVersion} (git ${commandOutput(['git', 'rev-parse', '--short', 'HEAD'])}), node ${process.version}, `
      + `${commandOutput(['buildah', '--version'])}, ${commandOutput(['umoci', '--version'])}.`,
    `Parameters: ${expected.fileCount} files, ${params.totalMiB} MiB in total (largest file ${(contextInfo.largestFile / MiB).toFixed(1)} MiB), `
      + `${contextInfo.directoryCount} directories; ${params.runs} runs per row, median wall/CPU time, peak RSS = worst run.`,
  ].join('\n');
}

async function main() {
  const work = mkdtempSync(join(process.env.BENCH_DIR || tmpdir(), 'tsbuild-bench-'));
  const cleanUp = () => rmSync(work, { recursive: true, force: true });
  process.once('SIGINT', () => { cleanUp(); process.exit(130); });
  try {
    const contextDir = join(work, 'context');
    const expected = { fileCount: params.fileCount, totalBytes: Math.round(params.totalMiB * MiB) };
    progress(`writing ${expected.fileCount} files, ${params.totalMiB} MiB under ${contextDir}`);
    const contextInfo = writeContextTree(join(contextDir, 'tree'), expected);
    writeFileSync(join(contextDir, 'Dockerfile'), 'FROM scratch\nCOPY tree /tree\nCMD ["/tree/none"]\n');

    const builds = buildCases(work, contextDir);
    await runRounds(builds, work);
    const storeOf = (key) => builds.find((b) => b.key === key).root;
    const unpacks = unpackCases(work, storeOf);
    await runRounds(unpacks, work);
    checkUnpacked(unpacks, expected);

    const rows = [...builds, ...unpacks].map(summarise);
    const sections = [
      header(expected, contextInfo),
      resultsTable(rows),
      `Targets (from the issue; a ratio is tsbuild's median wall time over the anchor's):\n\n${targetsTable(rows, TARGETS)}`,
    ];
    if (process.env.BENCH_PROFILE === '1') sections.push(await profileTsbuild(work, contextDir, storeOf));
    const block = sections.join('\n\n');
    process.stdout.write(`${block}\n`);
    if (process.env.BENCH_WRITE_DOC !== '0') {
      writeIntoDoc(docPath, block);
      progress(`results written into ${docPath}`);
    }
  } finally {
    cleanUp();
  }
}

main().catch((e) => {
  process.stderr.write(`bench: error: ${e.message}\n`);
  process.exitCode = 1;
});
