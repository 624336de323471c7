import { Worker } from 'node:worker_threads';
import { digestAlgorithm, digestHex, DigestMismatchError, withNoSpacePath, type Descriptor } from '@tsbuild/oci-layout';
import type { AuthorizationMessage, BlobDownloadJob, DownloadFailure, DownloadThreadMessage } from './blobDownloadWorker.js';
import { registryErrorFrom, TransferError } from './registryError.js';
import type { RegistrySession } from './registrySession.js';

// The thread runs compiled code; tests that load this package from its TypeScript sources use the build's.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? '../dist/blobDownloadWorker.js' : './blobDownloadWorker.js', import.meta.url);

function errorFrom(failure: DownloadFailure, path: string): Error {
  switch (failure.kind) {
    case 'status': {
      const err = registryErrorFrom(failure.status, failure.body, 'GET', failure.url);
      if (failure.retryAfterMs !== undefined) err.retryAfterMs = failure.retryAfterMs;
      return err;
    }
    case 'mismatch':
      return new DigestMismatchError(failure.message);
    case 'network':
      return new TransferError('unreachable', `${failure.message} (GET ${failure.url})`, { code: failure.code });
    case 'file':
      return withNoSpacePath(Object.assign(new Error(failure.message), { code: failure.code }), path) as Error;
  }
}

/**
 * Downloads a blob into a new file at `path` in a thread of its own (connection, hash, writes,
 * fsync), with the same verification, resumption and retries as `RepositoryClient.openBlob`.
 * The session stays on this thread: the download asks it for an Authorization header, again
 * after a 401, so tokens are fetched and renewed in one place.
 */
export function downloadBlobInThread(session: RegistrySession, url: string, scopes: string[], descriptor: Descriptor, path: string, onProgress?: (bytes: number) => void): Promise<void> {
  const job: BlobDownloadJob = {
    url,
    insecure: session.insecure,
    digest: descriptor.digest,
    algorithm: digestAlgorithm(descriptor.digest),
    hex: digestHex(descriptor.digest),
    size: descriptor.size,
    path,
    progress: onProgress !== undefined,
  };
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: job });
    let outcome: { error?: unknown } | undefined;
    // Settled once the thread has ended, so nothing of it still writes to `path` when the caller removes it.
    const settle = (result: { error?: unknown }) => {
      if (outcome) return;
      outcome = result;
      void worker.terminate();
    };
    worker.on('message', (m: DownloadThreadMessage) => {
      switch (m.type) {
        case 'authorize':
          session.authorizationFor(scopes, m.challenge).then(
            (authorization) => worker.postMessage({ authorization } satisfies AuthorizationMessage),
            (error: unknown) => settle({ error }),
          );
          break;
        case 'progress':
          onProgress?.(m.bytes);
          break;
        case 'done':
          settle({});
          break;
        case 'failed':
          settle({ error: errorFrom(m.failure, path) });
          break;
      }
    });
    worker.on('error', (error) => settle({ error }));
    worker.on('exit', (code) => {
      settle({ error: new Error(`the download thread of blob ${descriptor.digest} ended (exit code ${code}) before it finished`) });
      if (outcome!.error === undefined) resolve();
      else reject(outcome!.error);
    });
  });
}
