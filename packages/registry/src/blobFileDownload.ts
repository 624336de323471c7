import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { digestAlgorithm, digestHex, DigestMismatchError, ToolError, withNoSpacePath, Writeback, type Descriptor } from '@tsbuild/oci-layout';
import { directGet, type ResponseHead } from './directHttpGet.js';
import { registryErrorFrom, TransferError, urlFromRegistry } from './registryError.js';
import { isTransientError, retryDelay, type RegistrySession } from './registrySession.js';
import { retryAfterMs } from './retryPolicy.js';

/** Small bodies (errors) are kept this far for the message. */
const MAX_ERROR_BODY = 64 * 1024;

function networkError(e: unknown, url: URL): unknown {
  if (e instanceof ToolError || e instanceof DigestMismatchError || typeof (e as NodeJS.ErrnoException).code !== 'string') return e;
  return new TransferError('unreachable', `${(e as Error).message} (GET ${url.toString()})`, { code: (e as NodeJS.ErrnoException).code, cause: e });
}

/**
 * GETs the blob from byte `from` on into `consume` (a server that ignores Range sends it all again:
 * what is already written is skipped); answers one 401 with a fresh Authorization from the session,
 * follows redirects, without the Authorization header when they leave the registry's host.
 */
async function fetchFrom(session: RegistrySession, start: URL, scopes: string[], from: number, auth: { value?: string }, consume: (piece: Buffer) => void): Promise<void> {
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
      head = await directGet(url, headers, session.insecure, (h) => {
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
      throw networkError(e, url);
    }
    if (head.status === 200 || head.status === 206) return;
    if (head.status === 401 && sameHost && !reauthorized) {
      auth.value = await session.authorizationFor(scopes, head.headers['www-authenticate'] ?? '');
      reauthorized = true;
      continue;
    }
    const location = head.headers.location;
    if ([301, 302, 303, 307, 308].includes(head.status) && location) {
      url = urlFromRegistry(location, url, 'a redirect to');
      continue;
    }
    const err = registryErrorFrom(head.status, Buffer.concat(other).toString('utf8'), 'GET', url.toString());
    const after = retryAfterMs(head.headers['retry-after']);
    if (after !== undefined) err.retryAfterMs = after;
    throw err;
  }
  throw new TransferError('bad-response', `too many redirects from ${start.toString()}`);
}

/**
 * Downloads a blob into a new file at `path`, verified against `descriptor` (a DigestMismatchError
 * otherwise) and fsynced, with the retries and Range resumption of `RepositoryClient.openBlob`.
 * The bytes go from one reused read buffer to the hash and the file with no stream in between:
 * for a 100 MB layer on loopback this is about a quarter of the CPU of a verified stream through
 * undici, and less, in CPU and in time, than the same in worker threads (whose start alone costs
 * 90-100 ms of CPU each).
 */
export async function downloadBlobFile(session: RegistrySession, url: string, scopes: string[], descriptor: Descriptor, path: string, onProgress?: (bytes: number) => void): Promise<void> {
  const handle = await open(path, 'wx').catch((e: unknown) => {
    throw withNoSpacePath(e, path);
  });
  const writeback = new Writeback(handle);
  try {
    const hash = createHash(digestAlgorithm(descriptor.digest));
    let received = 0;
    let writeError: unknown;
    const auth = { value: await session.authorizationFor(scopes) };
    const start = new URL(url);
    const consume = (piece: Buffer) => {
      if (received + piece.length > descriptor.size) throw new DigestMismatchError(`blob ${descriptor.digest} is larger than its declared size ${descriptor.size}`);
      hash.update(piece);
      // Written at once: the piece is the read buffer's, valid only during this call.
      try {
        for (let at = 0; at < piece.length; ) at += writeSync(handle.fd, piece, at);
      } catch (e) {
        writeError = withNoSpacePath(e, path);
        throw writeError;
      }
      received += piece.length;
      onProgress?.(received);
      writeback.wrote(received);
    };
    for (let failures = 0; ; ) {
      try {
        await fetchFrom(session, start, scopes, received, auth, consume);
        if (received >= descriptor.size) break;
        throw new TransferError('unreachable', `blob ${descriptor.digest} ended early at ${received} of ${descriptor.size} bytes`, { code: 'ECONNRESET' });
      } catch (e) {
        const error = writeError ?? e;
        const policy = session.retryPolicy;
        if (++failures >= policy.attempts || !isTransientError(error)) throw error;
        const wait = retryDelay(error, failures, policy);
        if (wait > policy.maxRetryAfterMs) throw error;
        await sleep(wait);
      }
    }
    await writeback.settled();
    await handle.sync().catch((e: unknown) => {
      throw withNoSpacePath(e, path);
    });
    const actual = hash.digest('hex');
    if (actual !== digestHex(descriptor.digest)) throw new DigestMismatchError(`blob digest mismatch: expected ${descriptor.digest}, got ${digestAlgorithm(descriptor.digest)}:${actual}`);
  } finally {
    await writeback.settled();
    await handle.close();
  }
}
