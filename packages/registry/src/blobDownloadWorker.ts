// The body of a download thread: one blob from a registry into a new file, over connections of
// its own, hashed and fsynced here, so a pull's bytes never pass through the main thread's event
// loop (on loopback that one thread, not the network, was what a pull waited for).
// Its GETs are directHttpGet's, whose body reads cost a quarter of the CPU of Node's HTTP client
// (or undici), and which loads nothing but node:net and node:tls.
import { createHash } from 'node:crypto';
import { closeSync, fdatasync, fsyncSync, openSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { directGet, type ResponseHead } from './directHttpGet.js';
import { backoffDelay, DEFAULT_RETRY, isRetryableCode, isRetryableStatus, retryAfterMs } from './retryPolicy.js';

export interface BlobDownloadJob {
  /** The blob's URL on the registry; redirects (to storage) are followed, without the Authorization header when they leave its host. */
  url: string;
  insecure: boolean;
  digest: string;
  algorithm: string;
  hex: string;
  size: number;
  /** A file that must not exist yet. */
  path: string;
  progress: boolean;
}

export type DownloadFailure =
  | { kind: 'status'; status: number; body: string; url: string; retryAfterMs?: number }
  | { kind: 'mismatch'; message: string }
  | { kind: 'network'; message: string; code?: string; url: string }
  | { kind: 'file'; message: string; code?: string };

/** From the thread: `authorize` asks the session for an Authorization header (after a 401, with its challenge). */
export type DownloadThreadMessage = { type: 'authorize'; challenge?: string } | { type: 'progress'; bytes: number } | { type: 'done' } | { type: 'failed'; failure: DownloadFailure };

export interface AuthorizationMessage {
  authorization?: string;
}

/** Written bytes between background flushes, as DurableFileWriter does it. */
const FLUSH_EVERY = 16 * 1024 * 1024;
const PROGRESS_EVERY = 1024 * 1024;
const MAX_RETRY_AFTER_MS = 60_000;

const job = workerData as BlobDownloadJob;
const port = parentPort!;

class Failure extends Error {
  constructor(readonly failure: DownloadFailure) {
    super(failure.kind === 'status' ? `HTTP ${failure.status}` : failure.message);
  }
}

function isTransient(e: unknown): boolean {
  if (!(e instanceof Failure)) return false;
  const f = e.failure;
  return (f.kind === 'status' && isRetryableStatus(f.status)) || (f.kind === 'network' && isRetryableCode(f.code));
}

function authorize(challenge?: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    port.once('message', (m: AuthorizationMessage) => resolve(m.authorization));
    port.postMessage({ type: 'authorize', challenge } satisfies DownloadThreadMessage);
  });
}

function networkFailure(e: unknown, url: URL): Failure {
  if (e instanceof Failure) return e;
  const err = e as NodeJS.ErrnoException;
  return new Failure({ kind: 'network', message: err.message, code: err.code, url: url.toString() });
}

/** Small bodies (errors, redirects) are kept for the message; a blob's goes to `consume`, skipping the first `skip` bytes. */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * GETs the blob from byte `from` on into `consume` (a server that ignores Range sends it all again:
 * what is already written is skipped); answers one 401 with a fresh Authorization, follows redirects.
 */
async function fetchFrom(from: number, auth: { value?: string }, consume: (piece: Buffer) => void): Promise<void> {
  const start = new URL(job.url);
  let url = start;
  let reauthorized = false;
  for (let hop = 0; hop < 10; hop++) {
    const sameHost = url.host === start.host;
    const headers: Record<string, string> = { 'user-agent': 'tsbuild' };
    if (from > 0) headers.range = `bytes=${from}-`;
    if (sameHost && auth.value) headers.authorization = auth.value;
    const other: Buffer[] = [];
    let kept = 0;
    let head: ResponseHead;
    try {
      head = await directGet(url, headers, job.insecure, (h) => {
        if (h.status === 200 || h.status === 206) {
          let skip = from > 0 && h.status === 200 ? from : 0;
          return (piece) => {
            if (skip >= piece.length) {
              skip -= piece.length;
              return;
            }
            consume(skip > 0 ? piece.subarray(skip) : piece);
            skip = 0;
          };
        }
        return (piece) => {
          if (kept >= MAX_ERROR_BODY) return;
          other.push(Buffer.from(piece.subarray(0, MAX_ERROR_BODY - kept)));
          kept += piece.length;
        };
      });
    } catch (e) {
      throw networkFailure(e, url);
    }
    if (head.status === 200 || head.status === 206) return;
    if (head.status === 401 && sameHost && !reauthorized) {
      auth.value = await authorize(head.headers['www-authenticate'] ?? '');
      reauthorized = true;
      continue;
    }
    const location = head.headers.location;
    if ([301, 302, 303, 307, 308].includes(head.status) && location) {
      url = new URL(location, url);
      continue;
    }
    throw new Failure({ kind: 'status', status: head.status, body: Buffer.concat(other).toString('utf8'), url: url.toString(), retryAfterMs: retryAfterMs(head.headers['retry-after']) });
  }
  throw new Failure({ kind: 'network', message: `too many redirects from ${start.toString()}`, url: start.toString() });
}

function onFile<T>(op: () => T): T {
  try {
    return op();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Failure({ kind: 'file', message: err.message, code: err.code });
  }
}

function mismatch(message: string): Failure {
  return new Failure({ kind: 'mismatch', message });
}

async function download(): Promise<void> {
  const fd = onFile(() => openSync(job.path, 'wx'));
  let flushing: Promise<void> | undefined;
  try {
    const hash = createHash(job.algorithm);
    let received = 0;
    let flushedAt = 0;
    let reported = 0;
    const auth = { value: await authorize() };
    for (let failures = 0; ; ) {
      try {
        await fetchFrom(received, auth, (part) => {
          if (received + part.length > job.size) throw mismatch(`blob ${job.digest} is larger than its declared size ${job.size}`);
          hash.update(part);
          for (let at = 0; at < part.length; ) at += onFile(() => writeSync(fd, part, at));
          received += part.length;
          if (job.progress && received - reported >= PROGRESS_EVERY) {
            reported = received;
            port.postMessage({ type: 'progress', bytes: received } satisfies DownloadThreadMessage);
          }
          if (received - flushedAt >= FLUSH_EVERY && !flushing) {
            flushedAt = received;
            // An error here is seen again by the final fsync, which reports it.
            flushing = new Promise<void>((resolve) => fdatasync(fd, () => resolve())).then(() => void (flushing = undefined));
          }
        });
        if (received >= job.size) break;
        throw new Failure({ kind: 'network', message: `blob ${job.digest} ended early at ${received} of ${job.size} bytes`, code: 'ECONNRESET', url: job.url });
      } catch (e) {
        if (++failures >= DEFAULT_RETRY.attempts || !isTransient(e)) throw e;
        const failure = (e as Failure).failure;
        const wait = (failure.kind === 'status' ? failure.retryAfterMs : undefined) ?? backoffDelay(failures);
        if (wait > MAX_RETRY_AFTER_MS) throw e;
        await sleep(wait);
      }
    }
    if (job.progress && received !== reported) port.postMessage({ type: 'progress', bytes: received } satisfies DownloadThreadMessage);
    await flushing;
    onFile(() => fsyncSync(fd));
    const actual = hash.digest('hex');
    if (actual !== job.hex) throw mismatch(`blob digest mismatch: expected ${job.digest}, got ${job.algorithm}:${actual}`);
  } finally {
    await flushing;
    closeSync(fd);
  }
}

download().then(
  () => port.postMessage({ type: 'done' } satisfies DownloadThreadMessage),
  (e: unknown) => {
    // Only this thread's own failures are reported as such; anything else is a bug, left to crash the thread.
    if (!(e instanceof Failure)) throw e;
    port.postMessage({ type: 'failed', failure: e.failure } satisfies DownloadThreadMessage);
  },
);
