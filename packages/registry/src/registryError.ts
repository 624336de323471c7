import { FAILURE_EXIT_CODE, printableText, ToolError } from '@tsbuild/oci-layout';

/** skopeo's exit code for a copy that failed, whatever the reason: ours for every registry error. */
const TRANSFER_EXIT_CODE = FAILURE_EXIT_CODE;

/** What a registry's refusal means, from its HTTP status. */
export type RegistryErrorKind = 'unauthorized' | 'denied' | 'not-found' | 'unsupported' | 'too-many-requests' | 'server-error' | 'refused';

function refusalKind(status: number): RegistryErrorKind {
  const kinds: Record<number, RegistryErrorKind> = { 401: 'unauthorized', 403: 'denied', 404: 'not-found', 405: 'unsupported', 429: 'too-many-requests' };
  return kinds[status] ?? (status >= 500 ? 'server-error' : 'refused');
}

/** A registry's refusal, shown with the distribution-spec error code, its message and the request that got it. */
export class RegistryError extends ToolError<RegistryErrorKind> {
  /** What the registry's Retry-After asked for, when it said. */
  retryAfterMs?: number;

  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly detail: string,
    readonly method: string,
    readonly url: string,
  ) {
    super(refusalKind(status), `${code ?? `HTTP ${status}`}: ${detail} (${method} ${url} -> ${status})`, TRANSFER_EXIT_CODE);
  }
}

/** Why moving an image to or from a registry failed, when the registry did not simply refuse (that is a RegistryError). */
export type TransferErrorKind =
  /** The network failed: a connection refused or reset, a name that does not resolve, a body cut off. */
  | 'unreachable'
  /** The registry's answer breaks the protocol: an upload without a Location, a token server without a realm or a token, endless redirects. */
  | 'bad-response'
  /** The token server refused the credentials. */
  | 'auth-failed'
  /** A manifest or config larger than a client holds in memory. */
  | 'too-large'
  /** Bytes that do not match the digest they were asked for or stored under. */
  | 'digest-mismatch'
  /** What the reference names is no single image (an index where a manifest was needed, diff_ids that do not match the layers). */
  | 'not-an-image'
  /** No registry a short name may mean gave the image (`cause` holds the last failure). */
  | 'unavailable';

export class TransferError extends ToolError<TransferErrorKind> {
  /** For 'unreachable': Node's or undici's error code (ECONNRESET, UND_ERR_SOCKET, ...), which says whether a retry may help. */
  readonly code: string | undefined;

  constructor(kind: TransferErrorKind, message: string, options: { code?: string; cause?: unknown } = {}) {
    super(kind, message, TRANSFER_EXIT_CODE, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
  }
}

/**
 * A request's failure as a TransferError naming the request: an answer undici's HTTP parser
 * refuses (a bad header, another protocol; its HTTPParserError may carry no code) is a
 * `bad-response`, a network failure (an error with Node's or undici's code) `unreachable`.
 * Other errors as they are.
 */
export function withRequest(e: unknown, method: string, url: URL): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (e instanceof ToolError || !(e instanceof Error)) return e;
  const unparsable = e.name === 'HTTPParserError';
  if (!unparsable && typeof code !== 'string') return e;
  // One line: an HTTP client's own assertion (undici's on a 101 nobody asked for) spans several.
  const message = printableText(e.message.split('\n')[0]!);
  const named = message.includes(url.host) ? message : `${message} (${method} ${url.toString()})`;
  if (unparsable) return new TransferError('bad-response', `the registry at ${url.host} sent an answer that is not HTTP: ${named}`, { cause: e });
  return new TransferError('unreachable', named, { code, cause: e });
}

/** A Location (or token realm) the registry sent, resolved against the request's URL: a bad-response error when it is no http(s) URL. */
export function urlFromRegistry(value: string, base: URL | string, what: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(value, base);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_INVALID_URL') throw e;
  }
  if (url?.protocol === 'http:' || url?.protocol === 'https:') return url;
  throw new TransferError('bad-response', `the registry at ${new URL(base).host} sent ${what} "${printableText(value.slice(0, 200))}", which is no http(s) URL`);
}

interface SpecErrors {
  errors?: { code?: unknown; message?: unknown; detail?: unknown }[];
}

/** Builds the error from a response body in the spec's `{"errors":[{code,message}]}` shape, or from the status alone. */
export function registryErrorFrom(status: number, body: string, method: string, url: string): RegistryError {
  let code: string | undefined;
  let detail = printableText(body.trim().slice(0, 200)) || statusText(status);
  try {
    const first = (JSON.parse(body) as SpecErrors | null)?.errors?.[0];
    if (first && typeof first.code === 'string') {
      code = printableText(first.code.slice(0, 100));
      detail = typeof first.message === 'string' && first.message ? printableText(first.message.slice(0, 200)) : statusText(status);
    }
  } catch (e) {
    // Not JSON: the raw text (or the status) is the best we have.
    if (!(e instanceof SyntaxError)) throw e;
  }
  return new RegistryError(status, code, detail, method, url);
}

function statusText(status: number): string {
  const texts: Record<number, string> = { 401: 'unauthorized', 403: 'denied', 404: 'not found', 405: 'operation not supported', 429: 'too many requests' };
  return texts[status] ?? (status >= 500 ? 'server error' : 'unexpected response');
}
