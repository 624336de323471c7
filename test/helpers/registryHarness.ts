import { spawn, type ChildProcess } from 'node:child_process';
import { createSign, randomBytes, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireTools, run } from './tools.js';
import { tempDirs } from './tempDirs.js';

function listen(server: NetServer, address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve((server.address() as AddressInfo).port));
  });
}

/** This machine's own non-loopback IPv4 address: tsbuild talks plain HTTP to loopback, so HTTPS and its defaults are tested here. */
export function ownAddress(): string {
  const found = Object.values(networkInterfaces()).flat().find((i) => i && !i.internal && i.family === 'IPv4');
  if (!found) throw new Error('this machine has no non-loopback IPv4 address to run the plain-HTTP registry on');
  return found.address;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export type RegistryAuth = { kind: 'none' } | { kind: 'htpasswd'; user: string; password: string } | { kind: 'token'; user: string; password: string };

async function waitForRegistry(host: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = httpRequest(`http://${host}/v2/`, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`docker-registry did not answer on ${host}: ${log()}`);
}

/** The refresh token the test token server accepts for the user (docker's `identitytoken`). */
export const IDENTITY_TOKEN = 'tsbuild-test-identity-token';

/** A token server for the registry's `auth.token` config: checks Basic credentials, issues RS256 JWTs carrying the signing cert (x5c). */
async function startTokenServer(dir: string, user: string, password: string, service: string, issuer: string) {
  const key = join(dir, 'token.key');
  const cert = join(dir, 'token.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=tsbuild-test-token']);
  const keyPem = await readFile(key, 'utf8');
  const der = new X509Certificate(await readFile(cert)).raw.toString('base64');
  const requests: { scopes: string[]; user?: string }[] = [];
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const issue = (res: ServerResponse, who: string | undefined, scopes: string[]) => {
    requests.push({ scopes, ...(who ? { user: who } : {}) });
    const access = who
      ? scopes.map((s) => {
          const [type, ...rest] = s.split(':');
          const actions = rest.pop()!.split(',');
          return { type, name: rest.join(':'), actions };
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const header = b64({ alg: 'RS256', typ: 'JWT', x5c: [der] });
    const claims = b64({ iss: issuer, sub: who ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access });
    const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(keyPem).toString('base64url');
    const token = `${header}.${claims}.${signature}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization;
    let who: string | undefined;
    if (req.method === 'POST') {
      // The OAuth2 refresh-token grant: the identity token stands for the user.
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== IDENTITY_TOKEN) {
          res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad refresh token' }] }));
          return;
        }
        issue(res, user, (form.get('scope') ?? '').split(' ').filter(Boolean));
      });
      return;
    }
    if (auth?.startsWith('Basic ')) {
      const [u, ...p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (u !== user || p.join(':') !== password) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
      who = u;
    }
    issue(res, who, url.searchParams.getAll('scope'));
  });
  const port = await listen(server);
  return { realm: `http://127.0.0.1:${port}/token`, cert, requests, stop: () => closeServer(server) };
}

/**
 * Starts the real CNCF distribution registry (`docker-registry serve`) on
 * 127.0.0.1 (or `address`) with a free port and temp storage, optionally behind htpasswd
 * Basic auth or token auth with a token server on loopback.
 */
export async function startRegistry(auth: RegistryAuth = { kind: 'none' }, opts: { address?: string } = {}) {
  await requireTools({ 'docker-registry': 'docker-registry', openssl: 'openssl', ...(auth.kind === 'htpasswd' ? { htpasswd: 'apache2-utils' } : {}) });
  const dirs = tempDirs();
  const dir = await dirs.make('tsbuild-registry-');
  const port = await freePort();
  const host = `${opts.address ?? '127.0.0.1'}:${port}`;
  let authYaml = '';
  let token: Awaited<ReturnType<typeof startTokenServer>> | undefined;
  if (auth.kind === 'htpasswd') {
    const { stdout } = await run('htpasswd', ['-Bbn', auth.user, auth.password]);
    await writeFile(join(dir, 'htpasswd'), stdout);
    authYaml = `auth:\n  htpasswd:\n    realm: tsbuild-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth.kind === 'token') {
    token = await startTokenServer(dir, auth.user, auth.password, 'tsbuild-test-registry', 'tsbuild-test-issuer');
    authYaml = `auth:\n  token:\n    realm: ${token.realm}\n    service: tsbuild-test-registry\n    issuer: tsbuild-test-issuer\n    rootcertbundle: ${token.cert}\n`;
  }
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'storage')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n${authYaml}`,
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForRegistry(host, child, () => log);
  } catch (e) {
    child.kill('SIGKILL');
    await token?.stop();
    await dirs.cleanup();
    throw e;
  }
  return {
    /** host:port, e.g. 127.0.0.1:41234 */
    host,
    tokenRequests: token?.requests ?? [],
    async stop(): Promise<void> {
      if (child.exitCode === null) {
        process.kill(child.pid!, 'SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
      }
      await token?.stop();
      await dirs.cleanup();
    },
  };
}

export interface Fault {
  /** Which requests it hits, by method and path. */
  match: (method: string, path: string) => boolean;
  /**
   * cut: close the connection halfway through the response body; cut-upload: close it halfway
   * through the request body (the registry keeps what it got); status: answer with `status`
   * instead; corrupt: flip one byte of the response body; redirect: answer 307 to the same
   * path on another host name (`localhost`), as registries send blob downloads to storage.
   */
  action: 'cut' | 'cut-upload' | 'status' | 'corrupt' | 'redirect';
  /** Where a redirect points (host:port of another proxy in front of the same registry); default: this proxy under another name. */
  to?: string;
  status?: number;
  /** The distribution-spec error code a `status` answer carries (default INJECTED). */
  code?: string;
  retryAfter?: string;
  /** How many matching requests it hits (default 1). */
  times?: number;
}

/** A self-signed certificate for the IP address `ip`, valid for two days: a TLS registry's key pair and its own CA. */
export async function selfSignedCertificate(dir: string, ip: string): Promise<{ key: Buffer; cert: Buffer; certFile: string }> {
  const keyFile = join(dir, 'tls.key');
  const certFile = join(dir, 'tls.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2',
    '-subj', `/CN=${ip}`, '-addext', `subjectAltName=IP:${ip}`]);
  return { key: await readFile(keyFile), cert: await readFile(certFile), certFile };
}

/**
 * A loopback HTTP proxy in front of a registry that logs every request and
 * injects faults. The Host header is passed through, so the registry's upload
 * Locations point back at the proxy. With `tls` it serves HTTPS with that key
 * pair on `address` (default 127.0.0.1), where its redirects point too.
 */
export async function startFaultProxy(target: string, opts: { storageAuthorization?: string; tls?: { key: Buffer; cert: Buffer }; address?: string } = {}) {
  const scheme = opts.tls ? 'https' : 'http';
  const address = opts.address ?? '127.0.0.1';
  // Another name for the same proxy, as a registry's storage has one; over TLS the certificate names only `address`.
  const storageHost = opts.tls ? address : 'localhost';
  const faults: Fault[] = [];
  const requests: { method: string; path: string; status?: number; range?: string; contentRange?: string; authorization?: boolean; connection: string }[] = [];
  let port = 0;
  const handle: RequestListener = (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    let path = req.url ?? '/';
    const entry: (typeof requests)[number] = { method, path, authorization: req.headers.authorization !== undefined, connection: `${req.socket.remoteAddress}:${req.socket.remotePort}` };
    // The "storage" a redirect points at: it trusts its own signed URL, so it brings its own credentials.
    if (path.startsWith('/__storage__')) {
      path = path.slice('/__storage__'.length);
      if (opts.storageAuthorization) req.headers.authorization = opts.storageAuthorization;
    }
    if (req.headers.range) entry.range = req.headers.range;
    if (req.headers['content-range']) entry.contentRange = String(req.headers['content-range']);
    requests.push(entry);
    const fault = faults.find((f) => (f.times ?? 1) > 0 && f.match(method, path));
    if (fault) fault.times = (fault.times ?? 1) - 1;
    if (fault?.action === 'redirect') {
      entry.status = 307;
      req.resume();
      res.writeHead(307, { location: `${scheme}://${fault.to ?? `${storageHost}:${port}`}/__storage__${path}` }).end();
      return;
    }
    if (fault?.action === 'status') {
      entry.status = fault.status ?? 500;
      req.resume();
      res.writeHead(entry.status, { 'content-type': 'application/json', ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}) });
      res.end(JSON.stringify({ errors: [{ code: fault.code ?? 'INJECTED', message: `injected ${entry.status}` }] }));
      return;
    }
    const upstream = httpRequest(`http://${target}${path}`, { method, headers: req.headers }, (up) => {
      entry.status = up.statusCode;
      const length = Number(up.headers['content-length'] ?? 0);
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (!fault || fault.action === 'cut-upload' || length < 2) {
        up.pipe(res);
        return;
      }
      let sent = 0;
      const half = Math.floor(length / 2);
      up.on('data', (chunk: Buffer) => {
        if (fault.action === 'cut') {
          if (sent + chunk.length >= half) {
            res.write(chunk.subarray(0, half - sent));
            sent = half;
            up.destroy();
            res.socket?.destroy();
            return;
          }
        } else if (sent <= half && sent + chunk.length > half) {
          const copy = Buffer.from(chunk);
          copy[half - sent] = copy[half - sent]! ^ 0xff;
          chunk = copy;
        }
        sent += chunk.length;
        res.write(chunk);
      });
      up.on('end', () => res.end());
    });
    upstream.on('error', () => res.socket?.destroy());
    if (fault?.action === 'cut-upload') {
      const half = Math.floor(Number(req.headers['content-length'] ?? 0) / 2);
      let sent = 0;
      req.on('data', (chunk: Buffer) => {
        if (sent >= half) return;
        const part = chunk.subarray(0, half - sent);
        sent += part.length;
        upstream.write(part);
        if (sent >= half) {
          // Let the registry store what it got, then drop both sides as a broken network would.
          setTimeout(() => {
            upstream.destroy();
            req.socket.destroy();
          }, 200);
        }
      });
      return;
    }
    req.pipe(upstream);
  };
  const server = opts.tls ? createTlsServer(opts.tls, handle) : createServer(handle);
  port = await listen(server, address);
  return { host: `${address}:${port}`, faults, requests, stop: () => closeServer(server) };
}
