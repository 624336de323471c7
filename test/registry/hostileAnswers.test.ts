import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { digestOf, InvalidDocumentError, parseDigest } from '@tsbuild/oci-layout';
import { RegistryError, RegistrySession, remoteSource, RepositoryClient, TransferError, type RetryPolicy } from '@tsbuild/registry';
import { tempDirs } from '../helpers/tempDirs.js';
import { closedAfterEach } from '../helpers/closedAfterEach.js';

// What the registry-answer fuzz target (test/fuzz/registryTargets.mjs) found: answers a hostile or broken
// registry sends, each from a raw server on 127.0.0.1 that answers every connection with the next canned
// bytes and closes it. Each must end in a typed error with a one-line message: never a hang, never a crash.

/** Retries without the waiting, so a test of a refusal the client retries stays quick. */
const QUICK_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 10 };

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const { servers, sessions } = closedAfterEach();

/** A server whose nth connection gets `answers[n]` ({{origin}} filled in), then a 404; `requests` holds each request line. */
async function scripted(answers: string[]) {
  const requests: string[] = [];
  let next = 0;
  let origin = '';
  const server = createServer((socket: Socket) => {
    let head = '';
    socket.on('error', () => socket.destroy());
    // One answer per connection: a request sent on it after the answer (the client not yet aware of the close) goes unanswered.
    const onData = (data: Buffer) => {
      head += data.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      requests.push(head.slice(0, head.indexOf('\r\n')));
      socket.end(Buffer.from((answers[next++] ?? 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n').replaceAll('{{origin}}', origin), 'latin1'));
    };
    socket.on('data', onData);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  origin = `http://${host}`;
  const session = new RegistrySession(host, { retry: QUICK_RETRY });
  sessions.push(session);
  return { requests, session, client: new RepositoryClient(session, 'fuzz/app') };
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/** The rejection of `promise`, which must be a TransferError or RegistryError with a one-line message free of control characters. */
async function typedFailure(promise: Promise<unknown>): Promise<TransferError | RegistryError> {
  const error = await promise.then(
    () => expect.unreachable('the call succeeded'),
    (e: unknown) => e,
  );
  expect(error instanceof TransferError || error instanceof RegistryError, `${String(error)}`).toBe(true);
  expect((error as Error).message).not.toMatch(CONTROL);
  return error as TransferError | RegistryError;
}

const challenge = 'HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm="{{origin}}/token",service="s"\r\ncontent-length: 0\r\n\r\n';
const tokenAnswer = (body: string) => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`;

describe('hostile registry answers', () => {
  it('a head whose Content-Length frames no body (two lengths) rejects the request instead of leaving it unanswered', async () => {
    const { client } = await scripted(['HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\nhello']);
    const error = await typedFailure(client.getManifest('latest'));
    expect(error.message).toMatch(/bad Content-Length "5, 5"/);
  });

  it('a body that breaks its framing in the packet of its head fails the read, not the process', async () => {
    const { client } = await scripted(['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n']);
    const error = await typedFailure(client.getManifest('latest'));
    expect(error).toBeInstanceOf(TransferError);
    expect(error.message).toMatch(/bad chunk size "zz"/);
  });

  it('a manifest body cut short is an unreachable TransferError with the network code', async () => {
    const cut = 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"cut';
    const { client } = await scripted([cut]);
    const error = await typedFailure(client.getManifest('latest'));
    expect(error).toBeInstanceOf(TransferError);
    expect((error as TransferError).kind).toBe('unreachable');
    expect((error as TransferError).code).toBe('ECONNRESET');
    expect(error.message).toMatch(/^127\.0\.0\.1:\d+ closed the connection before the response ended$/);
  });

  it.each([
    ['not JSON', tokenAnswer('{"token": "abc"')],
    ['JSON null', tokenAnswer('null')],
    ['a token that is no string', tokenAnswer('{"token": 12}')],
    ['a token that would add a header line to the next request', tokenAnswer('{"token": "abc\\r\\nx-injected: 1"}')],
  ])('a token server answering %s is a bad response', async (_what, answer) => {
    const { client, requests } = await scripted([challenge, answer]);
    const error = await typedFailure(client.getManifest('latest'));
    expect((error as TransferError).kind).toBe('bad-response');
    expect(error.message).toMatch(/returned no token/);
    // The refused token was never sent on.
    expect(requests).toHaveLength(2);
  });

  it('a token realm that is no URL is a bad response, not an unreachable network', async () => {
    const { client } = await scripted(['HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm="http://[::1"\r\ncontent-length: 0\r\n\r\n']);
    const error = await typedFailure(client.getManifest('latest'));
    expect((error as TransferError).kind).toBe('bad-response');
    expect(error.message).toMatch(/sent a token realm "http:\/\/\[::1", which is no http\(s\) URL/);
  });

  it.each([
    ['no URL', 'http://[::1'],
    ['a URL of another scheme', 'th: 180'],
    ['a file', 'file:///etc/passwd'],
  ])('a redirect to %s is a bad response', async (_what, location) => {
    const { client } = await scripted([`HTTP/1.1 307 Temporary Redirect\r\nlocation: ${location}\r\ncontent-length: 0\r\n\r\n`]);
    const error = await typedFailure(client.getManifest('latest'));
    expect((error as TransferError).kind).toBe('bad-response');
    expect(error.message).toContain(`sent a redirect to "${location}", which is no http(s) URL`);
  });

  it('a token realm that is a file is a bad response', async () => {
    const { client } = await scripted(['HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm="file:///etc/passwd"\r\ncontent-length: 0\r\n\r\n']);
    const error = await typedFailure(client.getManifest('latest'));
    expect((error as TransferError).kind).toBe('bad-response');
    expect(error.message).toContain('sent a token realm "file:///etc/passwd", which is no http(s) URL');
  });

  it('control characters a registry puts in an error body, a status line or a digest are shown escaped', async () => {
    const escape = '\u001b[2J\u001b[31mpwned\r\nsecond line\u007f';
    const body = JSON.stringify({ errors: [{ code: `DENIED${escape}`, message: `no${escape}` }] });
    const { client } = await scripted([
      `HTTP/1.1 403 Forbidden\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      `HTTP/1.1 404 Not Found\r\ncontent-length: ${escape.length}\r\n\r\n${escape}`,
      `HTTP/1.1 200 OK\r\ndocker-content-digest: sha256:${escape}\r\ncontent-length: 2\r\n\r\n{}`,
      `\u001b[2JHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}`,
    ]);
    const denied = await typedFailure(client.getManifest('a'));
    expect(denied.message).toContain('DENIED\\u001b[2J\\u001b[31mpwned\\u000d\\u000asecond line\\u007f: no\\u001b');
    expect((await typedFailure(client.getManifest('b'))).message).toContain('HTTP 404: \\u001b[2J');
    expect((await typedFailure(client.getManifest('c'))).message).toMatch(/malformed digest "sha256:\\u001b\[2J/);
    expect((await typedFailure(client.getManifest('d'))).message).toMatch(/not an HTTP\/1.1 response: "\\u001b\[2JHTTP/);
  });

  it('a large blob download answered only by interim (1xx) heads is refused in one line, not recursed into or waited on', async () => {
    const { client } = await scripted(['HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(20_000)]);
    // 4 MiB and up: the file download path, on a connection of its own (directHttpGet).
    const download = client.fileDownload({ mediaType: 'application/octet-stream', digest: parseDigest(`sha256:${'a'.repeat(64)}`), size: 5 * 1024 * 1024 });
    const error = await typedFailure(download!(join(await dirs.make(), 'blob')));
    expect(error.message).toMatch(/sent more than 8 interim \(1xx\) answers/);
  });

  it('a manifest that is no JSON is an invalid document whose message shows its bytes escaped', async () => {
    const body = '\u001b[2J\r\nxxxxx';
    const { client } = await scripted([`HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json\r\ncontent-length: ${body.length}\r\n\r\n${body}`]);
    const error = await remoteSource(client, 'latest').then(
      () => expect.unreachable('the manifest was accepted'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidDocumentError);
    expect((error as Error).message).toMatch(/^invalid manifest: not JSON \(.*\\u001b\[2J\\u000d\\u000a/);
    expect((error as Error).message).not.toMatch(CONTROL);
  });

  it('an upload started with 201 and no Location is a bad response', async () => {
    const { client } = await scripted(['HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n']);
    const blob = Buffer.from('blob');
    const error = await typedFailure(client.uploadBlob({ mediaType: 'application/octet-stream', digest: digestOf(blob), size: blob.length }, async () => Readable.from([blob])));
    expect((error as TransferError).kind).toBe('bad-response');
    expect(error.message).toMatch(/answered the start of an upload with 201 and no upload Location/);
  });

  it('a 101 Switching Protocols to an upload is a one-line error', async () => {
    const { client } = await scripted(['HTTP/1.1 101 Switching Protocols\r\ncontent-length: 0\r\n\r\n']);
    const blob = Buffer.from('blob');
    const error = await typedFailure(client.uploadBlob({ mediaType: 'application/octet-stream', digest: digestOf(blob), size: blob.length }, async () => Readable.from([blob])));
    expect(error.message).toMatch(/\(POST http:\/\/127\.0\.0\.1:\d+\/v2\/fuzz\/app\/blobs\/uploads\/\)$/);
  });

  it('an answer undici\'s parser refuses (a bad header line, another protocol, a bad length) is a one-line bad response naming the request', async () => {
    const answers = ['HTTP/1.1 202 Accepted\r\nbad header line\r\n\r\n', 'SSH-2.0-OpenSSH_9.2\r\n\r\n', 'HTTP/1.1 202 Accepted\r\ncontent-length: x\r\n\r\n'];
    for (const answer of answers) {
      const { client } = await scripted([answer]);
      const blob = Buffer.from('blob');
      const error = await typedFailure(client.uploadBlob({ mediaType: 'application/octet-stream', digest: digestOf(blob), size: blob.length }, async () => Readable.from([blob])));
      expect([answer, (error as TransferError).kind]).toEqual([answer, 'bad-response']);
      expect(error.message).toMatch(/^the registry at 127\.0\.0\.1:\d+ sent an answer that is not HTTP: .+ \(POST http:\/\/127\.0\.0\.1:\d+\/v2\/fuzz\/app\/blobs\/uploads\/\)$/);
    }
  });

  it('a manifest stored under a digest with control characters in it is a mismatch shown escaped', async () => {
    // A request with a body waits for the ping that learns the auth scheme: the first answer is the ping's.
    const { client } = await scripted(['HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', `HTTP/1.1 201 Created\r\ndocker-content-digest: sha256:0\t${'0'.repeat(62)}\r\ncontent-length: 0\r\n\r\n`]);
    const error = await typedFailure(client.putManifest('1', Buffer.from('{}'), 'application/vnd.oci.image.manifest.v1+json'));
    expect((error as TransferError).kind).toBe('digest-mismatch');
    expect(error.message).toContain('stored manifest 1 as sha256:0\\u00090000');
  });

  it('the session retries a transient refusal as its retry policy says', async () => {
    const unavailable = 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n';
    const { client, requests } = await scripted([unavailable, unavailable, unavailable, unavailable]);
    const error = await typedFailure(client.getManifest('latest'));
    expect((error as RegistryError).status).toBe(503);
    expect(requests).toHaveLength(QUICK_RETRY.attempts);
  });
});
