/**
 * The fuzz targets: what each feeds an input to, and the properties it checks.
 * Runs inside the child process (targetProcess.mjs) the campaign can kill,
 * against the built packages (dist/), so a hang or a crash costs only the child.
 * A target gets `{ workDir, skip }`: skip names checks (`check:...`) left
 * out until a fix merges (knownAfterMerge.mjs).
 * A property violation is thrown as a Finding; anything else a target
 * throws is judged by `judgeError`.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { gzipSync } from 'node:zlib';
import {
  applyLayer, canonicalJson, formatImageName, formatPlatform, InvalidDocumentError, InvalidImageNameError, InvalidPlatformError, LayerApplyError, LayerFormatError, normalizeImageName,
  parseDescriptor, parseImageConfig, parseImageName, parseIndex, parseManifest, parsePlatform, PathResolutionError, readLayer, RuntimeSpecError, TarFormatError, TarParser, toRuntimeSpec,
  UserLookupError,
} from '@tsbuild/oci-layout';
import {
  CredentialsError, findCredentials, loadRegistriesConf, pullCandidates, qualifyName, RegistriesConfError, removeCredentials, saveCredentials,
} from '@tsbuild/registry';
import { DockerfileError, parseDockerfile, parseOnbuildTriggers, planBuild, StageState } from '@tsbuild/builder';
import { Prng } from './prng.mjs';
import { registryAnswerTarget, registryPushAnswerTarget } from './registryTargets.mjs';

/** A property the input broke: kind says which. */
export class Finding extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

const BUILTIN_ERRORS = new Set([Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError]);

/** The error's class as the package defines it; builtin classes (plain Error, TypeError...) are not typed errors. */
function isTypedError(error) {
  return error instanceof Error && !BUILTIN_ERRORS.has(error.constructor);
}

function describe(error) {
  if (!(error instanceof Error)) return `non-Error ${typeof error}: ${String(error)}`;
  const code = error.code ? ` [${error.code}]` : '';
  return `${error.constructor.name}${code}: ${error.message.split('\n')[0]}`;
}

/** Throws a Finding unless `error` is a typed error (of one of `allowed`, when given). */
function judgeError(error, allowed) {
  if (error instanceof Finding) throw error;
  const ok = allowed ? allowed.some((type) => error instanceof type) : isTypedError(error);
  if (ok) return;
  const cause = error instanceof Error && error.cause ? ` (cause: ${describe(error.cause)})` : '';
  throw new Finding('untyped-error', `${describe(error)}${cause}`);
}

// ---- tar parser: typed errors, same result at every chunking ----

function memberFacts(m) {
  const xattrs = m.xattrs && Object.fromEntries(Object.entries(m.xattrs).map(([k, v]) => [k, v.toString('hex')]));
  return JSON.stringify({ ...m, xattrs, sparse: m.sparse?.length });
}

/** Everything the parser reported for these chunks, as comparable lines. */
function parseTrace(chunks) {
  const trace = [];
  let hash;
  const parser = new TarParser({
    member(m) {
      trace.push(memberFacts(m));
      hash = createHash('sha256');
    },
    content(piece) {
      hash.update(piece);
    },
    memberEnd() {
      trace.push(`end ${hash.digest('hex')}`);
    },
  });
  try {
    for (const chunk of chunks) parser.write(chunk);
    parser.end();
    trace.push(`ok ended=${parser.ended}`);
  } catch (error) {
    judgeError(error, [TarFormatError]);
    trace.push(`error ${error.reason}`);
  }
  return trace;
}

function chunked(input, size) {
  const out = [];
  for (let at = 0; at < input.length; at += size) out.push(input.subarray(at, at + size));
  return out;
}

/** Random cut points, the same for the same input. */
function randomCuts(input, salt) {
  const rng = new Prng(createHash('sha256').update(input).update(String(salt)).digest().readUInt32LE(0));
  const out = [];
  for (let at = 0; at < input.length; ) {
    const size = rng.between(1, 2048);
    out.push(input.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** Ways to cut the input, the whole of it first: [name, chunks] pairs. */
function chunkings(input) {
  const ways = [['whole', [input]], ['511-byte', chunked(input, 511)], ['512-byte', chunked(input, 512)], ['513-byte', chunked(input, 513)], ['random', randomCuts(input, 1)], ['random', randomCuts(input, 2)]];
  if (input.length <= 16384) ways.push(['1-byte', chunked(input, 1)]);
  return ways;
}

function firstDifference(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return `at event ${i}: ${a[i]} vs ${b[i]}`;
  return 'none';
}

async function tarTarget(input) {
  const ways = chunkings(input);
  const reference = parseTrace(ways[0][1]);
  for (const [name, chunks] of ways.slice(1)) {
    const trace = parseTrace(chunks);
    if (!isDeepStrictEqual(trace, reference)) throw new Finding('chunking', `chunks of ${name} give another result than the whole input, ${firstDifference(reference, trace)}`);
  }
}

// ---- readLayer: typed errors; gzip and plain read alike ----

async function layerTrace(blob) {
  const trace = [];
  try {
    for await (const change of readLayer(Readable.from(blob))) {
      const { content, ...facts } = change.kind === 'entry' ? change.entry : change;
      trace.push(JSON.stringify({ kind: change.kind, ...facts, xattrs: facts.xattrs && Object.keys(facts.xattrs) }));
      if (content) {
        const hash = createHash('sha256');
        for await (const piece of content) hash.update(piece);
        trace.push(`content ${hash.digest('hex')}`);
      }
    }
    trace.push('ok');
  } catch (error) {
    judgeError(error, [LayerFormatError]);
    trace.push('error');
  }
  return trace;
}

/**
 * Changes parsed from one chunk before a failure later in that chunk are not
 * yielded (the failure comes first), so when the layer fails, one way of
 * reading may stop earlier than the other: then one trace must be the start
 * of the other, and both must fail.
 */
function sameLayerResult(a, b) {
  if (isDeepStrictEqual(a, b)) return true;
  if (a.at(-1) !== 'error' || b.at(-1) !== 'error') return false;
  const [shorter, longer] = a.length <= b.length ? [a, b] : [b, a];
  return shorter.slice(0, -1).every((line, i) => line === longer[i]);
}

async function layerTarget(input, { skip }) {
  const plain = await layerTrace(skip.has('check:layer-random-chunks') ? [input] : randomCuts(input, 3));
  const gzipped = await layerTrace(chunked(gzipSync(input), 4096));
  if (!sameLayerResult(plain, gzipped)) throw new Finding('chunking', `the gzip-compressed layer reads differently from the plain one, ${firstDifference(plain, gzipped)}`);
}

// ---- applyLayer: typed errors; nothing outside rootfs changes ----

/**
 * The sandbox: `rootfs/` and, beside it, `sentinel/` (a file and a directory).
 * The child's cwd is the sandbox, so `/proc/self/cwd/sentinel` is an absolute
 * link target that reaches the sentinel only if a lookup escapes the rootfs.
 */
class UnpackSandbox {
  static async create(workDir) {
    const dir = await mkdtemp(join(workDir, 'unpack-'));
    process.chdir(dir);
    const sandbox = new UnpackSandbox(dir);
    await sandbox.reset();
    return sandbox;
  }

  constructor(dir) {
    this.dir = dir;
    this.rootfs = join(dir, 'rootfs');
  }

  /** Rebuilds everything, outside the rootfs too (after an escape changed it). */
  async reset() {
    for (const name of await readdir(this.dir)) await rm(join(this.dir, name), { recursive: true, force: true });
    await mkdir(join(this.dir, 'sentinel', 'sub'), { recursive: true });
    await writeFile(join(this.dir, 'sentinel', 'keep'), 'sentinel\n');
    await mkdir(this.rootfs);
    this.baseline = await this.outside();
  }

  /** Empties the rootfs (whatever the last layer made of it) and lays out the links that point outside. */
  async prepareRootfs() {
    const root = await lstat(this.rootfs).catch((error) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
    if (!root?.isDirectory()) {
      await this.reset();
    } else {
      for (const name of await readdir(this.rootfs)) await rm(join(this.rootfs, name), { recursive: true, force: true });
    }
    await symlink('../sentinel', join(this.rootfs, 'lnk'));
    await symlink('/proc/self/cwd/sentinel', join(this.rootfs, 'abs'));
    await mkdir(join(this.rootfs, 'dir'));
    await writeFile(join(this.rootfs, 'file'), 'file\n');
  }

  /** Every fact about the sandbox outside rootfs/ that a write could change. */
  async outside() {
    const facts = [];
    const walk = async (path, rel) => {
      const st = await lstat(path, { bigint: true });
      let extra = '';
      if (st.isSymbolicLink()) extra = await readlink(path);
      else if (st.isFile()) extra = createHash('sha256').update(await readFile(path)).digest('hex');
      facts.push(`${rel} mode=${st.mode} uid=${st.uid} gid=${st.gid} nlink=${st.nlink} size=${st.size} mtime=${st.mtimeNs} ctime=${st.ctimeNs} ${extra}`);
      if (st.isDirectory()) for (const name of (await readdir(path)).sort()) if (!(rel === '.' && name === 'rootfs')) await walk(join(path, name), `${rel}/${name}`);
    };
    await walk(this.dir, '.');
    return facts;
  }
}

let sandbox;

async function unpackTarget(input, { workDir, skip }) {
  sandbox ??= await UnpackSandbox.create(workDir);
  await sandbox.prepareRootfs();
  try {
    await applyLayer(sandbox.rootfs, Readable.from(randomCuts(input, 4)), { sameOwner: true });
  } catch (error) {
    if (!skip.has('check:unpack-typed-errors')) judgeUnpackError(error);
  }
  const after = await sandbox.outside();
  if (!isDeepStrictEqual(after, sandbox.baseline)) {
    const changed = after.filter((line) => !sandbox.baseline.includes(line));
    const gone = sandbox.baseline.filter((line) => !after.includes(line));
    await sandbox.reset();
    throw new Finding('escape', `unpack changed the sentinel outside rootfs: now ${changed.join('; ') || '-'}; was ${gone.join('; ') || '-'}`);
  }
}

/**
 * applyLayer names the change that failed in a LayerApplyError; its cause is
 * the layer's own contradiction (another LayerApplyError), a layer that
 * cannot be read (LayerFormatError), a name that resolves through a symlink
 * loop (PathResolutionError) or the kernel's refusal (an errno error from a syscall). Anything else (a TypeError, a
 * RangeError) is a bug the input found.
 */
function judgeUnpackError(error) {
  if (error instanceof LayerApplyError) {
    const cause = error.cause;
    if (cause === undefined || cause instanceof LayerApplyError || cause instanceof LayerFormatError || cause instanceof PathResolutionError || (cause instanceof Error && typeof cause.syscall === 'string' && typeof cause.code === 'string')) return;
    throw new Finding('untyped-error', `${describe(error)} (cause: ${describe(cause)})`);
  }
  judgeError(error);
}

// ---- Dockerfile: parse, plan, and every instruction through StageState ----

const PLATFORM = { os: 'linux', architecture: 'amd64' };

/** A Dockerfile error must be a DockerfileError that says where: a person reads file:line:column, then what is wrong. */
function judgeDockerfileError(error) {
  judgeError(error, [DockerfileError, InvalidImageNameError]);
  if (error instanceof DockerfileError && !error.location) throw new Finding('no-location', `a Dockerfile error names no file:line:column: ${error.message}`);
}

async function dockerfileTarget(input) {
  try {
    const df = parseDockerfile(input.toString('utf8'), 'Dockerfile');
    const plan = planBuild(df, { buildArgs: { FUZZ: '1' }, platform: PLATFORM });
    for (const stage of plan.stages) {
      if (stage.base.kind === 'image') parseImageName(stage.base.ref);
      const state = new StageState({ globalArgs: plan.globalArgs, buildArgs: plan.buildArgs, escape: plan.escape });
      for (const instruction of stage.stage.instructions) state.apply(instruction);
    }
  } catch (error) {
    judgeDockerfileError(error);
  }
  // A base image's ONBUILD triggers are outside input too: the input's lines as triggers.
  try {
    const triggers = input.toString('utf8').split('\n').slice(0, 8);
    for (const instruction of parseOnbuildTriggers(triggers, { file: 'Dockerfile', line: 1, column: 1 })) {
      new StageState({ globalArgs: {}, buildArgs: {}, escape: '\\' }).apply(instruction);
    }
  } catch (error) {
    judgeDockerfileError(error);
  }
}

// ---- registries.conf and auth.json, read as the CLI reads them ----

const NAMES = ['docker.io/library/busybox:1', 'example.test/team/app@sha256:' + 'a'.repeat(64), 'localhost:5000/x/y:z'];
const SHORT_NAMES = ['busybox', 'team/app:1', 'shorty', `app@sha256:${'b'.repeat(64)}`];

async function registriesConfTarget(input, { workDir }) {
  const dir = await mkdtemp(join(workDir, 'conf-'));
  try {
    const file = join(dir, 'registries.conf');
    await writeFile(file, input);
    const conf = await loadRegistriesConf(file, { HOME: dir });
    for (const name of NAMES) pullCandidates(conf, parseImageName(name));
    for (const name of SHORT_NAMES) qualifyName(conf, name);
  } catch (error) {
    judgeError(error, [RegistriesConfError, InvalidImageNameError]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function authJsonTarget(input, { workDir }) {
  const dir = await mkdtemp(join(workDir, 'auth-'));
  try {
    const file = join(dir, 'auth.json');
    await writeFile(file, input);
    // No PATH: a credential helper the file names is looked up and not found, quickly.
    const env = { REGISTRY_AUTH_FILE: file, HOME: dir, DOCKER_CONFIG: join(dir, 'docker'), PATH: '' };
    await findCredentials('docker.io', 'library/busybox', env);
    await findCredentials('example.test', 'team/app', env);
    await findCredentials('localhost:5000', undefined, env);
    await removeCredentials('example.test', env);
    await saveCredentials('fuzz.test', 'user', 'pass', env);
  } catch (error) {
    judgeError(error, [CredentialsError]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- manifest, index, config and descriptor validators ----

const VALIDATORS = {
  manifest: (bytes) => parseManifest(bytes),
  'manifest as docker v2': (bytes) => parseManifest(bytes, 'application/vnd.docker.distribution.manifest.v2+json'),
  index: (bytes) => parseIndex(bytes),
  'index as oci index': (bytes) => parseIndex(bytes, 'application/vnd.oci.image.index.v1+json'),
  config: (bytes) => parseImageConfig(bytes),
  descriptor: (bytes) => parseDescriptor(JSON.parse(bytes.toString('utf8'))),
};

async function schemaTarget(input) {
  for (const [what, validate] of Object.entries(VALIDATORS)) {
    let parsed;
    try {
      parsed = validate(input);
    } catch (error) {
      // The descriptor validator takes parsed JSON: a SyntaxError there is JSON.parse's, not the validator's.
      if (what === 'descriptor' && error instanceof SyntaxError) continue;
      judgeError(error, [InvalidDocumentError]);
      continue;
    }
    // What a validator accepts, written back as we store it, must validate to the same value.
    let again;
    try {
      again = validate(canonicalJson(parsed));
    } catch (error) {
      throw new Finding('roundtrip', `${what}: accepted, but its canonical JSON is refused: ${describe(error)}`);
    }
    if (!isDeepStrictEqual(again, parsed)) throw new Finding('roundtrip', `${what}: accepted, but its canonical JSON validates to another value`);
  }
}

// ---- an image config, as a base image hands it to a build and to a runtime bundle ----

/** A rootfs with the passwd and group files `User` is resolved in, including a name that is a number out of range. */
async function userRootfs(workDir) {
  const rootfs = join(workDir, 'config-rootfs');
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n4294967296:x:0:0::/:/bin/sh\n');
  await writeFile(join(rootfs, 'etc', 'group'), 'root:x:0:\nusers:x:100:user\n');
  return rootfs;
}

const MAX_ID = 2 ** 31 - 1;
const BUILD_STEPS = parseDockerfile('FROM scratch\nENV A=$PATH:x\nARG B=1\nUSER $B\nWORKDIR rel/$HOME\nRUN echo hi\nCMD x\nLABEL a=b\n', 'Dockerfile').stages[0].instructions;
let configRootfs;

/** A spec's user: ids runc accepts; a numeric `User` means those numbers, never a passwd name (issue 9 defect 3). */
function checkSpecUser(spec, user) {
  const { uid, gid } = spec.process.user;
  for (const [field, id] of [['uid', uid], ['gid', gid]]) {
    if (!Number.isSafeInteger(id) || id < 0 || id > MAX_ID) throw new Finding('runtime-user', `User ${JSON.stringify(user)} gives ${field} ${id}, which runc refuses`);
  }
  const numeric = /^(\d+)(?::(\d+))?$/.exec(user);
  if (numeric) {
    if (Number(numeric[1]) !== uid || (numeric[2] !== undefined && Number(numeric[2]) !== gid)) {
      throw new Finding('runtime-user', `numeric User ${JSON.stringify(user)} gives uid ${uid} gid ${gid}`);
    }
  }
}

async function imageConfigTarget(input, { workDir, skip }) {
  let config;
  try {
    config = parseImageConfig(input);
  } catch (error) {
    judgeError(error, [InvalidDocumentError]);
    return;
  }
  try {
    const state = new StageState({ base: config.config, globalArgs: {}, buildArgs: {}, escape: '\\' });
    for (const instruction of parseOnbuildTriggers(state.inheritedTriggers, { file: 'Dockerfile', line: 1, column: 1 })) state.apply(instruction);
    for (const instruction of BUILD_STEPS) state.apply(instruction);
  } catch (error) {
    judgeDockerfileError(error);
  }
  configRootfs ??= await userRootfs(workDir);
  let spec;
  try {
    spec = await toRuntimeSpec(config, { rootfs: configRootfs });
  } catch (error) {
    judgeError(error, [RuntimeSpecError, UserLookupError]);
    return;
  }
  if (!skip.has('check:runtime-user')) checkSpecUser(spec, config.config?.User ?? '');
  if (!spec.process.cwd.startsWith('/')) throw new Finding('runtime-spec', `cwd ${JSON.stringify(spec.process.cwd)} is not absolute`);
  if (!spec.process.args.every((a) => typeof a === 'string')) throw new Finding('runtime-spec', 'process.args holds a non-string');
}

// ---- image names and platforms, as users and Dockerfiles type them ----

/** Each line as an image name and as a platform: typed errors, and what parses prints back to the same value. */
async function referencesTarget(input) {
  for (const line of input.toString('utf8').split('\n').slice(0, 20)) {
    try {
      const name = parseImageName(line);
      const printed = formatImageName(name);
      if (!isDeepStrictEqual(parseImageName(printed), name)) throw new Finding('roundtrip', `image name ${JSON.stringify(line)} prints as ${JSON.stringify(printed)}, which parses to another name`);
      if (normalizeImageName(printed) !== printed) throw new Finding('roundtrip', `normalizing ${JSON.stringify(printed)} changes it`);
    } catch (error) {
      judgeError(error, [InvalidImageNameError]);
    }
    try {
      const platform = parsePlatform(line);
      if (!isDeepStrictEqual(parsePlatform(formatPlatform(platform)), platform)) throw new Finding('roundtrip', `platform ${JSON.stringify(line)} does not print back to itself`);
    } catch (error) {
      judgeError(error, [InvalidPlatformError]);
    }
  }
}

export const TARGETS = {
  tar: tarTarget,
  layer: layerTarget,
  unpack: unpackTarget,
  dockerfile: dockerfileTarget,
  'registries-conf': registriesConfTarget,
  'auth-json': authJsonTarget,
  schema: schemaTarget,
  references: referencesTarget,
  'image-config': imageConfigTarget,
  'registry-answer': (input, options) => registryAnswerTarget(input, options, Finding),
  'registry-push-answer': (input, options) => registryPushAnswerTarget(input, options, Finding),
};
