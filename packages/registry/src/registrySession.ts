import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { KeepAliveHttp, type HttpResponse } from './keepAliveHttp.js';
import type { Agent } from './undiciCore.js';
import { parseAuthChallenge, type AuthChallenge } from './authChallenge.js';
import { findCredentials, type Credentials } from './credentials.js';
import { registryErrorFrom, RegistryError, TransferError, urlFromRegistry, withRequest } from './registryError.js';
import { backoffDelay, DEFAULT_RETRY, isRetryableCode, isRetryableStatus, retryAfterMs, type RetryPolicy } from './retryPolicy.js';

export interface SessionOptions {
  /** Allow plain HTTP and skip TLS verification (registries.conf `insecure`, `--tls-verify=false`). */
  insecure?: boolean;
  /** Credentials to use instead of those found in auth.json / docker config. */
  credentials?: Credentials;
  env?: NodeJS.ProcessEnv;
  /** How transient failures are retried (DEFAULT_RETRY unless given). */
  retry?: RetryPolicy;
}

export type RequestBody = Buffer | Readable | string;

export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** A path under the registry (`/v2/...`) or an absolute URL (upload locations). */
  url: string;
  headers?: Record<string, string>;
  /** Called for each try, so a retried request sends its body afresh. */
  body?: () => Promise<RequestBody>;
  /** Token scopes, e.g. `repository:library/nginx:pull`. */
  scopes: string[];
  /** Statuses that are success for this request; anything else becomes a RegistryError. */
  expect: number[];
  /** Whether transient failures are retried here (false when the caller resynchronises itself). */
  retry?: boolean;
  /** Refusal codes (`DIGEST_INVALID`, ...) that are transient for this request alone, and retried as a 503 would be. */
  transientCodes?: readonly string[];
  /** Sent over a connection of its own, never a pooled one (a retry after a response whose bytes were wrong). */
  freshConnection?: boolean;
}

export type RegistryResponse = HttpResponse;

/** undici, loaded by the first request that needs it (one with a body, or over HTTPS): see keepAliveHttp. */
const undici = () => import('./undiciCore.js');

export function isTransientError(e: unknown, transientCodes: readonly string[] = []): boolean {
  if (e instanceof RegistryError) return isRetryableStatus(e.status) || (e.code !== undefined && transientCodes.includes(e.code));
  return isRetryableCode((e as NodeJS.ErrnoException | undefined)?.code);
}

function isLoopbackHost(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** How long to wait before retrying after `e`: what the registry's Retry-After asked for, else the backoff. */
export function retryDelay(e: unknown, attempt: number, policy: RetryPolicy = DEFAULT_RETRY): number {
  return (e as { retryAfterMs?: number }).retryAfterMs ?? backoffDelay(attempt, policy);
}

function basicAuthorization(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
}

export function header(res: RegistryResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

interface TokenAnswer {
  token?: unknown;
  access_token?: unknown;
  expires_in?: unknown;
}

/** A token server's JSON answer; anything else is a broken answer, not a crash. */
function parseTokenAnswer(text: string): TokenAnswer {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  return typeof doc === 'object' && doc !== null ? (doc as TokenAnswer) : {};
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

/**
 * One registry host: picks HTTPS or plain HTTP, authenticates (Bearer tokens
 * per scope set, reused until they expire; Basic), retries transient failures
 * with backoff honouring Retry-After, and follows redirects, dropping the
 * Authorization header when one leads to another host.
 */
export class RegistrySession {
  private dispatcher?: Promise<Agent>;
  private readonly plainHttp = new KeepAliveHttp();
  private origin?: Promise<string>;
  private challenge?: AuthChallenge;
  private readonly tokens = new Map<string, Promise<CachedToken>>();
  private pinged?: Promise<void>;
  /** Set once the registry has answered something that says how it authenticates (a challenge, or a success without one). */
  private schemeKnown = false;
  private readonly credentialCache = new Map<string, Promise<Credentials | undefined>>();

  constructor(
    readonly host: string,
    private readonly opts: SessionOptions = {},
  ) {}

  private async newDispatcher(connections: number): Promise<Agent> {
    const { Agent } = await undici();
    return new Agent({ connect: { rejectUnauthorized: !this.opts.insecure }, connections });
  }

  async close(): Promise<void> {
    this.plainHttp.close();
    if (this.dispatcher) await (await this.dispatcher).close();
  }

  /** Whether plain HTTP and unverified TLS are allowed, for connections made outside the session (blob file downloads). */
  get insecure(): boolean {
    return this.opts.insecure === true;
  }

  /** How this registry's transient failures are retried, by the session and by the transfers made through it. */
  get retryPolicy(): RetryPolicy {
    return this.opts.retry ?? DEFAULT_RETRY;
  }

  /** The scheme and host to talk to, found once: HTTP for loopback; for insecure registries HTTPS if it answers, else HTTP. */
  baseUrl(): Promise<string> {
    this.origin ??= (async () => {
      if (isLoopbackHost(this.host)) return `http://${this.host}`;
      // Docker Hub is named docker.io but serves the API from registry-1.docker.io.
      const https = `https://${this.host === 'docker.io' ? 'registry-1.docker.io' : this.host}`;
      if (!this.opts.insecure) return https;
      try {
        const res = await this.send('GET', `${https}/v2/`, {}, undefined);
        await res.body.dump();
        return https;
      } catch (e) {
        // The insecure registry does not speak TLS: the handshake fails with a network or TLS error (whatever its code), so plain HTTP it is.
        if (typeof (e as NodeJS.ErrnoException).code !== 'string') throw e;
        return `http://${this.host}`;
      }
    })();
    return this.origin;
  }

  private credentialsFor(scopes: string[]): Promise<Credentials | undefined> {
    if (this.opts.credentials) return Promise.resolve(this.opts.credentials);
    const repository = /^repository:([^:]+):/.exec(scopes[0] ?? '')?.[1];
    const key = repository ?? '';
    let found = this.credentialCache.get(key);
    if (!found) {
      found = findCredentials(this.host, repository, this.opts.env);
      this.credentialCache.set(key, found);
    }
    return found;
  }

  private async authorization(scopes: string[]): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === 'basic') {
      const creds = await this.credentialsFor(scopes);
      return creds?.username ? basicAuthorization(creds) : undefined;
    }
    if (this.challenge.scheme !== 'bearer') return undefined;
    const key = scopes.join(' ');
    let pending = this.tokens.get(key);
    if (pending) {
      // An earlier token request that failed, whatever the failure, is made again: the caller that started it reports that error.
      const cached = await pending.catch(() => undefined);
      if (!cached || cached.expiresAt <= Date.now()) pending = undefined;
    }
    if (!pending) {
      // Concurrent requests for one scope share one token request.
      pending = this.fetchToken(this.challenge, scopes);
      this.tokens.set(key, pending);
      // Forgets a failed request; its error still reaches every caller awaiting `pending`.
      pending.catch(() => this.tokens.delete(key));
    }
    return `Bearer ${(await pending).value}`;
  }

  /** The token endpoint of the Bearer flow: GET with Basic credentials (or anonymous), or the OAuth2 refresh-token POST. */
  private async fetchToken(challenge: AuthChallenge, scopes: string[]): Promise<CachedToken> {
    const realm = challenge.params.realm;
    if (!realm) throw new TransferError('bad-response', `registry ${this.host} asked for a Bearer token without naming a realm`);
    const url = urlFromRegistry(realm, await this.baseUrl(), 'a token realm');
    const creds = await this.credentialsFor(scopes);
    const headers: Record<string, string> = {};
    let res: RegistryResponse;
    if (creds?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'tsbuild' });
      if (challenge.params.service) form.set('service', challenge.params.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await this.send('POST', url, { 'content-type': 'application/x-www-form-urlencoded' }, form.toString());
    } else {
      if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      if (creds?.username) headers.authorization = basicAuthorization(creds);
      res = await this.send('GET', url, headers, undefined);
    }
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      const err = registryErrorFrom(res.statusCode, text, creds?.identityToken ? 'POST' : 'GET', url.toString());
      throw new TransferError('auth-failed', `authentication with ${this.host} failed: ${err.message}`, { cause: err });
    }
    const doc = parseTokenAnswer(text);
    const value = doc.token ?? doc.access_token;
    // The token goes into a header line of ours: anything but visible ASCII would break (or forge) that request.
    if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value)) throw new TransferError('bad-response', `the token server of ${this.host} (${url.origin}) returned no token`);
    const expiresIn = typeof doc.expires_in === 'number' && Number.isFinite(doc.expires_in) ? doc.expires_in : 60;
    const lifetime = Math.max(60, expiresIn) * 1000;
    // Timed from our clock, not `issued_at`, so clock skew cannot expire a token at once;
    // renewed a little early so it never expires between check and use.
    return { value, expiresAt: Date.now() + lifetime - 10_000 };
  }

  /**
   * The Authorization header for a request made outside the session (a blob file download) with
   * `scopes`. `challenge` is the WWW-Authenticate of a 401 that request got: it is learnt, and a
   * token the registry refused is not handed out again.
   */
  async authorizationFor(scopes: string[], challenge?: string): Promise<string | undefined> {
    if (challenge !== undefined) {
      const parsed = parseAuthChallenge(challenge);
      if (!parsed) return undefined;
      this.challenge = parsed;
      this.schemeKnown = true;
      this.tokens.delete(scopes.join(' '));
    } else if (!this.schemeKnown) {
      await this.pingOnce();
    }
    return this.authorization(scopes);
  }

  /** One ping shared by everything waiting for the scheme; a failed one is tried again by the next caller. */
  private pingOnce(): Promise<void> {
    this.pinged ??= this.ping().catch((e) => {
      this.pinged = undefined;
      throw e;
    });
    return this.pinged;
  }

  /** Learns how the registry wants to be authenticated, from its answer to `GET /v2/`. */
  async ping(): Promise<void> {
    const url = `${await this.baseUrl()}/v2/`;
    const res = await this.send('GET', url, {}, undefined);
    const text = await res.body.text();
    if (res.statusCode === 401) {
      this.challenge = parseAuthChallenge(header(res, 'www-authenticate') ?? '');
      this.schemeKnown = true;
      return;
    }
    if (res.statusCode !== 200) throw registryErrorFrom(res.statusCode, text, 'GET', url);
    this.schemeKnown = true;
  }

  /** Proves the session's credentials: `GET /v2/` must succeed once authenticated (a token with no scope, or Basic). */
  async checkCredentials(): Promise<void> {
    const res = await this.request({ method: 'GET', url: '/v2/', scopes: [], expect: [200] });
    await res.body.dump();
  }

  /** Sends one request; `fresh` on a connection of its own, never a pooled one. The body is unread. */
  private async send(method: string, url: string | URL, headers: Record<string, string>, body: RequestBody | undefined, fresh = false): Promise<RegistryResponse> {
    const target = typeof url === 'string' ? new URL(url) : url;
    if (body === undefined && (method === 'GET' || method === 'HEAD') && target.protocol === 'http:') return this.plainHttp.request(method, target, headers, fresh);
    const { request } = await undici();
    if (!fresh) {
      this.dispatcher ??= this.newDispatcher(16);
      return request(target, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher: await this.dispatcher });
    }
    const own = await this.newDispatcher(1);
    try {
      const res = await request(target, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher: own });
      res.body.once('close', () => void own.destroy());
      return res;
    } catch (e) {
      await own.destroy();
      throw e;
    }
  }

  /**
   * Sends a request: authorises it, answers one 401 challenge, follows GET/HEAD
   * redirects, retries transient failures. The returned body is unread.
   */
  async request(req: RegistryRequest): Promise<RegistryResponse> {
    const base = await this.baseUrl();
    const first = new URL(req.url, base);
    const policy = this.retryPolicy;
    const tries = req.retry === false ? 1 : policy.attempts;
    for (let attempt = 0; ; attempt++) {
      try {
        // A request without a body learns the auth scheme from its own 401, a round trip less than a
        // ping first. One with a body is never the first thing a registry hears: it waits for the
        // scheme (a blob upload always follows its bodiless POST, whose 401 teaches it).
        if (req.body && !this.schemeKnown) await this.pingOnce();
        return await this.requestOnce(req, first, req.freshConnection === true);
      } catch (e) {
        if (attempt + 1 >= tries || !isTransientError(e, req.transientCodes)) throw withRequest(e, req.method, first);
        const wait = retryDelay(e, attempt, policy);
        if (wait > policy.maxRetryAfterMs) throw e;
        await sleep(wait);
      }
    }
  }

  private async requestOnce(req: RegistryRequest, start: URL, fresh: boolean): Promise<RegistryResponse> {
    let url = start;
    let authorized = false;
    for (let hop = 0; hop < 10; hop++) {
      const sameHost = url.host === start.host;
      const headers: Record<string, string> = { 'user-agent': 'tsbuild', ...req.headers };
      const auth = sameHost ? await this.authorization(req.scopes) : undefined;
      if (auth) headers.authorization = auth;
      const res = await this.send(req.method, url, headers, req.body ? await req.body() : undefined, fresh);
      if (res.statusCode === 401 && sameHost && !authorized) {
        const text = await res.body.text();
        const challenge = parseAuthChallenge(header(res, 'www-authenticate') ?? '');
        if (!challenge) throw registryErrorFrom(401, text, req.method, url.toString());
        this.challenge = challenge;
        this.schemeKnown = true;
        // A token the registry refused (expired early, or too narrow) is not reused.
        if (auth) this.tokens.delete(req.scopes.join(' '));
        authorized = true;
        continue;
      }
      if (sameHost && res.statusCode !== 401 && res.statusCode < 500) this.schemeKnown = true;
      const location = header(res, 'location');
      if ([301, 302, 303, 307, 308].includes(res.statusCode) && location && (req.method === 'GET' || req.method === 'HEAD') && !req.expect.includes(res.statusCode)) {
        await res.body.dump();
        url = urlFromRegistry(location, url, 'a redirect to');
        continue;
      }
      if (req.expect.includes(res.statusCode)) return res;
      // A body cut off (the connection dropped mid-response) leaves the status alone to say what went wrong.
      const text = req.method === 'HEAD' ? '' : await res.body.text().catch((e: unknown) => {
        if (typeof (e as NodeJS.ErrnoException).code !== 'string') throw e;
        return '';
      });
      if (req.method === 'HEAD') await res.body.dump();
      const err = registryErrorFrom(res.statusCode, text, req.method, url.toString());
      const after = retryAfterMs(res.headers['retry-after']);
      if (after !== undefined) err.retryAfterMs = after;
      throw err;
    }
    throw new TransferError('bad-response', `too many redirects from ${start.toString()}`);
  }
}
