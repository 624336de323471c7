/**
 * The `registry-answer` and `registry-push-answer` fuzz targets: what a registry sends back over HTTP.
 * An input is a script of raw HTTP answers (separated by ANSWER_SEPARATOR),
 * which a local server on 127.0.0.1 hands out in order, one per connection,
 * closing each connection after its answer, while the client pulls an image
 * through the package's public API (`pullImage` into a fresh LocalStore), or
 * pushes one (ImageTransports.copy from a store that pulled it once: HEADs,
 * cross-repository mounts the blob location cache suggests, uploads and their
 * Locations, the manifest PUT). Requests beyond the script get a distribution-spec 404.
 *
 * Checked per input: the pull settles (the campaign's time budget catches a
 * hang; the retry policy is fast so retries cost milliseconds), a failure is a
 * typed error with a one-line message free of control characters, every blob
 * in the store hashes to its name and no temp file is left behind, and
 * nothing beside the store changed. A crash (uncaught exception, unhandled
 * rejection) kills the child, which the campaign reports.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { LocalStore, readdirIfExists } from '@tsbuild/oci-layout';
import { ImageTransports, pullImage, TransferError } from '@tsbuild/registry';

export const ANSWER_SEPARATOR = '\n@@next-answer@@\n';
/** `{{zeros:N}}` in an answer becomes N zero bytes (a large blob in a small input), at most this many. */
const MAX_ZEROS = 8 * 1024 * 1024;
/** Retries as the default policy makes them, without the waiting: hostile answers ask for many. */
const FAST_RETRY = { attempts: 5, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 10 };
/** What the server answers once the script is used up: a refusal no client retries. */
const NO_MORE_ANSWERS = (() => {
  const body = JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'no more answers in this input' }] });
  return Buffer.from(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
})();

/** The answers of one input, with its placeholders filled in. */
function scriptOf(input, origin) {
  const text = input.toString('latin1').replaceAll('{{origin}}', origin);
  return text.split(ANSWER_SEPARATOR).map((answer) => {
    const pieces = answer.split(/\{\{zeros:(\d{1,9})\}\}/);
    return Buffer.concat(pieces.map((piece, i) => (i % 2 === 1 ? Buffer.alloc(Math.min(Number(piece), MAX_ZEROS)) : Buffer.from(piece, 'latin1'))));
  });
}

/** One server for the process; each input sets the script it answers from. */
class AnswerServer {
  static async start() {
    const server = new AnswerServer();
    await new Promise((resolve) => server.server.listen(0, '127.0.0.1', resolve));
    server.origin = `http://127.0.0.1:${server.server.address().port}`;
    return server;
  }

  constructor() {
    this.script = undefined;
    this.sockets = new Set();
    this.server = createServer((socket) => this.serve(socket));
  }

  serve(socket) {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const script = this.script;
    // Between inputs: a request of the last input still going is cut off, not answered from the next.
    if (!script) return void socket.destroy();
    let head = '';
    const onData = (data) => {
      head += data.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const answer = script.answers[script.next++] ?? NO_MORE_ANSWERS;
      socket.end(answer);
    };
    socket.on('data', onData);
  }

  /** Answers from `answers` until `run` settles, then drops what is still connected. */
  async answering(answers, run) {
    this.script = { answers, next: 0 };
    try {
      return await run();
    } finally {
      this.script = undefined;
      for (const socket of this.sockets) socket.destroy();
      // A retry the pull left scheduled connects within the fast policy's delays: it meets no script.
      await sleep(FAST_RETRY.maxDelayMs + 1);
    }
  }
}

/** Control characters (a newline, an escape sequence) in an error message: a hostile registry writing to the user's terminal. */
const CONTROL = /[\u0000-\u001f\u007f]/;
const BUILTIN_ERRORS = new Set([Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError]);

function describe(error) {
  if (!(error instanceof Error)) return `non-Error ${typeof error}: ${String(error)}`;
  return `${error.constructor.name}${error.code ? ` [${error.code}]` : ''}: ${error.message.split('\n')[0]}`;
}

/** A cause a typed error may carry: another typed error, or the network's (an errno-style code on a plain Error). */
function acceptableCause(cause) {
  if (cause === undefined) return true;
  if (!(cause instanceof Error)) return false;
  if (!BUILTIN_ERRORS.has(cause.constructor)) return true;
  return cause.constructor === Error && typeof cause.code === 'string' && /^E[A-Z]+$/.test(cause.code);
}

/**
 * A pull that fails must say why in a typed error with a one-line message. Its `unavailable`
 * wrapper (no candidate registry gave the image) is looked through to the failure it holds.
 * Returns a finding [kind, message], or undefined.
 */
export function judgePullError(error) {
  const inner = error instanceof TransferError && error.kind === 'unavailable' && error.cause !== undefined ? error.cause : error;
  if (!(inner instanceof Error) || BUILTIN_ERRORS.has(inner.constructor)) return ['untyped-error', describe(inner)];
  if (!acceptableCause(inner.cause)) return ['untyped-error', `${describe(inner)} (cause: ${describe(inner.cause)})`];
  if (CONTROL.test(error.message)) return ['error-message', `${describe(inner)}: the message holds control characters: ${JSON.stringify(error.message.slice(0, 200))}`];
  return undefined;
}

/** Blob files that do not hash to their names, and temp files left behind. */
async function storeProblems(root) {
  const problems = [];
  const blobs = join(root, 'oci', 'blobs');
  for (const algorithm of await readdirIfExists(blobs)) {
    for (const name of await readdir(join(blobs, algorithm))) {
      const actual = createHash(algorithm).update(await readFile(join(blobs, algorithm, name))).digest('hex');
      if (actual !== name) problems.push(`blob ${algorithm}:${name.slice(0, 16)}… holds bytes of ${actual.slice(0, 16)}…`);
    }
  }
  const left = await readdirIfExists(join(root, 'tmp'));
  if (left.length > 0) problems.push(`temp files left: ${left.join(', ')}`);
  return problems;
}

/** The sandbox outside the store: names and contents, which no answer may change. */
async function outsideFacts(dir) {
  const facts = [];
  for (const name of (await readdir(dir)).sort()) {
    if (name === 'store') continue;
    const path = join(dir, name);
    const inside = await readdir(path).catch((e) => (e.code === 'ENOTDIR' ? undefined : Promise.reject(e)));
    if (!inside) facts.push(`${name} ${createHash('sha256').update(await readFile(path)).digest('hex')}`);
    else for (const inner of inside.sort()) facts.push(`${name}/${inner} ${createHash('sha256').update(await readFile(join(path, inner))).digest('hex')}`);
  }
  return facts;
}

let state;

async function setUp(workDir) {
  const dir = await mkdtemp(join(workDir, 'registry-'));
  await mkdir(join(dir, 'sentinel'));
  await writeFile(join(dir, 'sentinel', 'keep'), 'sentinel\n');
  // An empty registries.conf and auth file: the pull reads nothing of the machine's.
  await writeFile(join(dir, 'registries.conf'), '');
  await writeFile(join(dir, 'auth.json'), '{}');
  const env = { HOME: dir, REGISTRY_AUTH_FILE: join(dir, 'auth.json'), DOCKER_CONFIG: join(dir, 'docker'), XDG_CONFIG_HOME: join(dir, 'config'), PATH: '' };
  const server = await AnswerServer.start();
  return { dir, env, server, baseline: await outsideFacts(dir) };
}

/** Throws what the target's checks find, as the campaign's Finding. */
export async function registryAnswerTarget(input, { workDir }, Finding) {
  state ??= await setUp(workDir);
  const { dir, server } = state;
  const root = join(dir, 'store');
  await rm(root, { recursive: true, force: true });
  const store = await LocalStore.open(root, { create: true });
  const reference = `${server.origin.slice('http://'.length)}/fuzz/app:latest`;
  let error;
  try {
    await server.answering(scriptOf(input, server.origin), () => pullImage(store, reference, { ...pullOptions(), platform: { os: 'linux', architecture: 'amd64' } }));
  } catch (e) {
    error = e;
  }
  if (error !== undefined) {
    const finding = judgePullError(error);
    if (finding) throw new Finding(...finding);
  }
  const problems = await storeProblems(root);
  if (problems.length > 0) throw new Finding('store', `${error ? `after ${describe(error)}: ` : ''}${problems.join('; ')}`);
  if (!isDeepStrictEqual(await outsideFacts(dir), state.baseline)) throw new Finding('escape', 'the pull changed files beside the store');
}

/** The image a push sends: the plain seed's, pulled once into a store of its own (outside the watched sandbox). */
async function pushSource(workDir) {
  const root = await mkdtemp(join(workDir, 'push-source-'));
  const store = await LocalStore.open(root, { create: true });
  const seed = await readFile(fileURLToPath(new URL('./corpus/registry-answer/plain.http', import.meta.url)));
  const name = `${state.server.origin.slice('http://'.length)}/fuzz/app:latest`;
  await state.server.answering(scriptOf(seed, state.server.origin), () => pullImage(store, name, pullOptions()));
  return { root, store, name };
}

function pullOptions() {
  return { registriesConf: join(state.dir, 'registries.conf'), env: state.env, tlsVerify: false, retry: FAST_RETRY };
}

let source;

/** A push of one image to a registry that answers with the input: the same checks, on the source store. */
export async function registryPushAnswerTarget(input, { workDir }, Finding) {
  state ??= await setUp(workDir);
  source ??= await pushSource(workDir);
  const { server } = state;
  const transports = await ImageTransports.create({ ...pullOptions(), openStore: async () => source.store });
  let error;
  try {
    await server.answering(scriptOf(input, server.origin), () =>
      transports.copy({ transport: 'store', name: source.name }, { transport: 'docker', reference: `${server.origin.slice('http://'.length)}/fuzz/push:1` }),
    );
  } catch (e) {
    error = e;
  } finally {
    await transports.close();
  }
  if (error !== undefined) {
    const finding = judgePullError(error);
    if (finding) throw new Finding(...finding);
  }
  const problems = await storeProblems(source.root);
  if (problems.length > 0) throw new Finding('store', `the pushed store: ${problems.join('; ')}`);
  if (!isDeepStrictEqual(await outsideFacts(state.dir), state.baseline)) throw new Finding('escape', 'the push changed files beside the store');
}
