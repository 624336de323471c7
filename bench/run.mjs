// `npm run bench`: tsbuild and tsdive against their anchors, side by side in one run, reported
// as ratios. Groups (each on unless set to 0):
//   BENCH_COPY      build and unpack of a generated COPY-heavy context vs buildah / umoci
//                   (BENCH_FILES 20000, BENCH_MB 300, BENCH_PROFILE=1 adds CPU profiles)
//   BENCH_NGINX     samples/nginx FROM Debian, cold and fully cached, vs buildah (needs the network)
//   BENCH_RUNFILES  a RUN writing 10,000 files FROM Debian vs buildah
//   BENCH_REGISTRY  push / pull through a docker-registry vs skopeo copy and curl, on loopback and
//                   over a simulated WAN (BENCH_REGISTRY_WAN=0 leaves the WAN rows out; they need root);
//                   BENCH_REGISTRY_STORE (a tsbuild store) and BENCH_REGISTRY_NAME (localhost/nginx:latest)
//                   move an image already built there instead of building one
//   BENCH_SHAREDCACHE samples/nginx fully cached on an empty store from a registry cache vs buildah
//                   bud --cache-from and a plain pull of the image (needs the network once)
//   BENCH_DIVE      tsdive --json vs decompressing the layers (BENCH_DIVE_LAYERS 20, BENCH_DIVE_FILES 200000)
//   BENCH_RUN       tsbuild run vs runc run of a bundle (floor) and podman run: hello with and without
//                   a bridge, Debian vs hello, BENCH_RUN_DETACHED (50) detached containers and their memory
//   BENCH_STARTUP   every command's start-up vs bare `node -e 0`
// Opt-in (set to 1):
//   BENCH_SCALE     #14's contexts of many small files: tsbuild cold / unchanged / one-changed build vs
//                   buildah and the `tar | gzip -1` floor, bundle vs `tar -xzf`, tsdive --json, peak RSS
//                   (BENCH_SCALE_FILES 200000; BENCH_SCALE_MILLION=1 adds 1,000,000 files)
// Also: BENCH_RUNS (3), BENCH_DIR (os.tmpdir()), BENCH_WRITE_DOC=0 (stdout only).
// The registry and tsdive groups use the nginx image when BENCH_NGINX ran, else the Debian base.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resultsTable, targetsTable, writeIntoDoc } from './benchReport.mjs';
import { copyGroup } from './copyBench.mjs';
import { debianBase } from './debianBase.mjs';
import { nginxGroup, runFilesGroup } from './debianBuildBench.mjs';
import { diveGroup } from './diveBench.mjs';
import { registryGroup } from './registryBench.mjs';
import { runContainerGroup } from './runContainerBench.mjs';
import { sharedCacheGroup } from './sharedCacheBench.mjs';
import { scaleGroup } from './scaleBench.mjs';
import { startupGroup } from './startupBench.mjs';
import { removeTree } from './runRounds.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const docPath = join(repo, 'docs/BENCHMARKS.md');

function positiveEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0)) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

const GROUPS = [
  ['BENCH_COPY', copyGroup],
  ['BENCH_NGINX', nginxGroup],
  ['BENCH_RUNFILES', runFilesGroup],
  ['BENCH_REGISTRY', registryGroup],
  ['BENCH_SHAREDCACHE', sharedCacheGroup],
  ['BENCH_DIVE', diveGroup],
  ['BENCH_RUN', runContainerGroup],
  ['BENCH_STARTUP', startupGroup],
].filter(([name]) => process.env[name] !== '0');
if (process.env.BENCH_SCALE === '1') GROUPS.push(['BENCH_SCALE', scaleGroup]);

const progress = (line) => process.stderr.write(`bench: ${line}\n`);

function commandOutput(argv) {
  const result = spawnSync(argv[0], argv.slice(1), { cwd: repo, encoding: 'utf8' });
  return result.status === 0 ? (result.stdout || result.stderr).trim().split('\n')[0] : 'unknown';
}

function header(runs) {
  const tsbuildVersion = JSON.parse(readFileSync(join(repo, 'packages/builder/package.json'), 'utf8')).version;
  return [
    `Run ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} on ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown CPU'}), `
      + `${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${release()}.`,
    `Versions: tsbuild ${tsbuildVersion} (git ${commandOutput(['git', 'rev-parse', '--short', 'HEAD'])}), node ${process.version}, `
      + `${commandOutput(['buildah', '--version'])}, ${commandOutput(['umoci', '--version'])}, ${commandOutput(['skopeo', '--version'])}, `
      + `docker-registry ${commandOutput(['docker-registry', '--version'])}, ${commandOutput(['runc', '--version'])}, `
      + `${commandOutput(['conmon', '--version'])}, ${commandOutput(['podman', '--version'])}.`,
    `Groups run: ${GROUPS.map(([name]) => name).join(', ')}. ${runs} runs per row, median wall/CPU time, peak RSS = worst run.`,
  ].join('\n');
}

async function main() {
  const runs = Math.round(positiveEnv('BENCH_RUNS', 3));
  // buildah and skopeo reject oci: paths with capitals, so the work dir is lower case, or
  // reached through a lower-case link when BENCH_DIR is not.
  const work = join(process.env.BENCH_DIR || tmpdir(), `tsbuild-bench-${randomBytes(4).toString('hex')}`);
  mkdirSync(work);
  let alias = work;
  if (work !== work.toLowerCase()) {
    alias = join(tmpdir(), `tsbuild-bench-${process.pid}`);
    symlinkSync(work, alias);
  }
  const cleanUp = () => {
    if (alias !== work) rmSync(alias, { force: true });
    removeTree(work);
  };
  process.once('SIGINT', () => { cleanUp(); process.exit(130); });
  let base;
  const ctx = {
    repo, work, runs, progress, positiveEnv,
    tsbuildBin: join(repo, 'packages/builder/bin/tsbuild.js'),
    tsdiveBin: join(repo, 'packages/inspect-tui/bin/tsdive.js'),
    lowercase: (path) => join(alias, relative(work, path)),
    debianBase: () => (base ??= debianBase(ctx)),
    nginxImage: undefined,
    registryImage: process.env.BENCH_REGISTRY_STORE
      ? { store: resolve(process.env.BENCH_REGISTRY_STORE), name: process.env.BENCH_REGISTRY_NAME || 'localhost/nginx:latest', label: `${process.env.BENCH_REGISTRY_NAME || 'localhost/nginx:latest'} from BENCH_REGISTRY_STORE` }
      : undefined,
  };
  try {
    const sections = [header(runs)];
    const targets = [];
    for (const [name, group] of GROUPS) {
      progress(`group ${name}`);
      const result = await group(ctx);
      sections.push(`### ${result.title}\n\n${result.parameters}\n\n${resultsTable(result.rows)}`);
      if (result.extra) sections.push(result.extra);
      targets.push(...result.targets);
    }
    sections.push(`### Targets\n\nFrom the issues; a ratio is tsbuild's (tsdive's) median wall time over the anchor's.\n\n${targetsTable(targets)}`);
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
  process.stderr.write(`bench: error: ${e.stack ?? e.message}\n`);
  process.exitCode = 1;
});
