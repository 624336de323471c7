import { describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { RegistrySession } from '@tsbuild/registry';
import { closedAfterEach } from '../helpers/closedAfterEach.js';

// Bodiless requests to a plain-HTTP registry go over kept-alive connections of tsbuild's own
// (no undici). A raw server shows what goes over which connection, and misbehaves on purpose.

interface Seen {
  connection: number;
  line: string;
}

/** What the server does with a request: answers, answers and then closes, or drops the connection (undefined). */
type Reply = string | { thenClose: string } | undefined;

/** A server that replies to each request with `answer(line, nth request on this connection)`. */
async function rawServer(answer: (line: string, nth: number) => Reply): Promise<{ host: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  let connections = 0;
  const server = createServer((socket: Socket) => {
    const connection = ++connections;
    let nth = 0;
    let pending = '';
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const line = pending.slice(0, pending.indexOf('\r\n'));
        pending = pending.slice(end + 4);
        seen.push({ connection, line });
        const reply = answer(line, ++nth);
        if (typeof reply === 'string') {
          socket.write(reply);
          continue;
        }
        if (reply) socket.write(reply.thenClose);
        socket.destroy();
        return;
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { host: `127.0.0.1:${port}`, seen, server };
}

const json = (body: string, extra = '') => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
const chunked = (parts: string[]) => `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${parts.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('')}0\r\n\r\n`;

const { servers, sessions } = closedAfterEach();

async function setUp(answer: (line: string, nth: number) => Reply) {
  const raw = await rawServer(answer);
  servers.push(raw.server);
  const session = new RegistrySession(raw.host);
  sessions.push(session);
  // Without the session's retries: what is seen is the connection handling alone.
  const get = async (path: string, method: 'GET' | 'HEAD' = 'GET') => {
    const res = await session.request({ method, url: path, scopes: [], expect: [200], retry: false });
    return { status: res.statusCode, length: res.headers['content-length'], text: method === 'HEAD' ? (await res.body.dump(), '') : await res.body.text() };
  };
  return { ...raw, get };
}

describe('bodiless requests to a plain-HTTP registry', () => {
  it('one after another, they share one connection: a sized body, a HEAD whose length has no body, a chunked body', async () => {
    const { get, seen } = await setUp((line) => {
      if (line.startsWith('HEAD')) return 'HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n';
      if (line.includes('/chunked')) return chunked(['{"a":', '1}']);
      return json('{"ok":true}');
    });
    expect(await get('/v2/first')).toEqual({ status: 200, length: '11', text: '{"ok":true}' });
    expect(await get('/v2/blob', 'HEAD')).toEqual({ status: 200, length: '1234', text: '' });
    expect(await get('/v2/chunked')).toEqual({ status: 200, length: undefined, text: '{"a":1}' });
    expect(await get('/v2/last')).toEqual({ status: 200, length: '11', text: '{"ok":true}' });
    expect(seen.map((s) => s.line)).toEqual(['GET /v2/first HTTP/1.1', 'HEAD /v2/blob HTTP/1.1', 'GET /v2/chunked HTTP/1.1', 'GET /v2/last HTTP/1.1']);
    expect(new Set(seen.map((s) => s.connection)).size).toBe(1);
  });

  it('a kept-alive connection the server drops without answering: the request goes again on a new one', async () => {
    const { get, seen } = await setUp((_line, nth) => (nth === 1 ? json('"one"') : undefined));
    expect((await get('/v2/a')).text).toBe('"one"');
    expect((await get('/v2/b')).text).toBe('"one"');
    expect(seen.map((s) => `${s.connection} ${s.line}`)).toEqual(['1 GET /v2/a HTTP/1.1', '1 GET /v2/b HTTP/1.1', '2 GET /v2/b HTTP/1.1']);
  });

  it('a response that says "connection: close" is not followed by another request on its connection', async () => {
    const { get, seen } = await setUp(() => json('{}', 'connection: close\r\n'));
    await get('/v2/a');
    await get('/v2/b');
    expect(seen.map((s) => s.connection)).toEqual([1, 2]);
  });

  it('a server that answers only with interim (1xx) heads is refused in one line, not waited on', async () => {
    const { get } = await setUp(() => 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(50));
    await expect(get('/v2/a')).rejects.toThrow(/sent more than 8 interim \(1xx\) answers/);
  });

  it('a body cut short by the server is an error, not a short answer', async () => {
    const { get } = await setUp(() => ({ thenClose: 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"cut' }));
    await expect(get('/v2/a')).rejects.toThrow(/closed the connection before the response ended/);
  });
});
