import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { withRequest } from './registryError.js';
import { framingOf, IDLE_TIMEOUT_MS, lengthFraming, networkError, ResponseHeadReader, type BodyFraming } from './directHttpGet.js';

/**
 * GET and HEAD over plain HTTP/1.1 on kept-alive connections: what a pull asks a registry before
 * and beside its large blobs (manifests, configs, small layers, HEADs of blobs), without undici.
 * Loading undici and compiling its WebAssembly parser is 80-120 ms of CPU, more than every one of
 * those requests together on loopback; a pull over plain HTTP then never loads it (large blobs
 * already go through directHttpGet). Requests with a body, and HTTPS, stay with undici.
 */

/** What a dumped body may still read to keep its connection; beyond this the connection is closed instead, as undici does. */
const DUMP_LIMIT_BYTES = 128 * 1024;
/** What a body holds ahead of its reader before the socket is paused. */
const BODY_BUFFER_BYTES = 1024 * 1024;

/** A response's body: a stream, with undici's ways of reading it whole. */
export interface ResponseBody extends Readable {
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
  /** Reads the rest and discards it, so the connection can serve another request. */
  dump(): Promise<void>;
}

/** A response as undici's `request` gives it (its ResponseData has this shape), header names in lower case. */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: ResponseBody;
}

class KeptAliveBody extends Readable implements ResponseBody {
  constructor(private readonly wanted: () => void) {
    super({ highWaterMark: BODY_BUFFER_BYTES });
    // The connection may fail mid-body before anyone reads it (its head is handed out first): a later
    // reader meets that error in the stream's errored state; emitted to no listener, it would end the process.
    this.on('error', () => undefined);
  }

  override _read(): void {
    this.wanted();
  }

  async text(): Promise<string> {
    return (await this.collect()).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.collect();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async dump(): Promise<void> {
    let read = 0;
    for await (const piece of this as AsyncIterable<Buffer>) {
      read += piece.length;
      // Leaving the loop destroys the body, and with it the connection.
      if (read > DUMP_LIMIT_BYTES) return;
    }
  }

  private async collect(): Promise<Buffer> {
    const pieces: Buffer[] = [];
    for await (const piece of this as AsyncIterable<Buffer>) pieces.push(piece);
    return Buffer.concat(pieces);
  }
}

/** A kept-alive connection the server closed (or reset) before answering anything: the request is sent again on a new one. */
class StaleConnection extends Error {}

interface IdleConnection {
  socket: Socket;
  /** Takes the connection out of the idle set, for a request. */
  take(): void;
}

export class KeepAliveHttp {
  private readonly idle = new Map<string, IdleConnection[]>();

  /** Sends a bodiless request; `fresh` sends it on a connection of its own that serves nothing else. */
  async request(method: 'GET' | 'HEAD', url: URL, headers: Record<string, string>, fresh = false): Promise<HttpResponse> {
    if (!fresh) {
      const kept = this.idle.get(url.host)?.pop();
      if (kept) {
        kept.take();
        try {
          return await this.exchange(kept.socket, method, url, headers, true, true);
        } catch (e) {
          if (!(e instanceof StaleConnection)) throw e;
        }
      }
    }
    const socket = connect({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 80) });
    socket.setTimeout(IDLE_TIMEOUT_MS);
    return this.exchange(socket, method, url, headers, !fresh, false);
  }

  /** Closes the idle connections; those still answering close when their response ends. */
  close(): void {
    for (const connections of this.idle.values()) for (const { socket } of connections) socket.destroy();
    this.idle.clear();
  }

  private keepIdle(host: string, socket: Socket): void {
    const connections = this.idle.get(host) ?? [];
    this.idle.set(host, connections);
    const forget = () => {
      const at = connections.indexOf(entry);
      if (at >= 0) connections.splice(at, 1);
      socket.destroy();
    };
    const entry: IdleConnection = {
      socket,
      take: () => {
        socket.off('data', forget).off('close', forget).off('error', forget).off('timeout', forget);
        socket.ref();
      },
    };
    // An idle connection is not sent anything: bytes, an end or a silence this long retire it.
    socket.on('data', forget).on('close', forget).on('error', forget).on('timeout', forget);
    socket.unref();
    socket.resume();
    connections.push(entry);
  }

  private exchange(socket: Socket, method: 'GET' | 'HEAD', url: URL, headers: Record<string, string>, keep: boolean, reused: boolean): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const heads = new ResponseHeadReader(url.host);
      let answered = false;
      let persistent = keep;
      let framing: BodyFraming | undefined;
      let body: KeptAliveBody | undefined;
      let done = false;
      const detach = () => {
        socket.off('data', onData).off('close', onClose).off('error', onError).off('timeout', onTimeout);
      };
      const fail = (error: Error) => {
        if (done) return;
        done = true;
        detach();
        socket.destroy();
        if (body) body.destroy(withRequest(error, method, url) as Error);
        else reject(!answered && reused ? new StaleConnection(error.message) : error);
      };
      const complete = (reusable: boolean) => {
        done = true;
        detach();
        if (reusable) this.keepIdle(url.host, socket);
        else socket.destroy();
        body!.push(null);
      };
      const deliver = (piece: Buffer) => {
        if (!body!.push(piece)) socket.pause();
      };
      const onData = (data: Buffer) => {
        answered = true;
        try {
          let rest = data;
          if (!framing) {
            const whole = heads.push(data);
            if (!whole) return;
            const { head } = whole;
            rest = whole.rest;
            persistent &&= !/\bclose\b/i.test(head.headers.connection ?? '');
            // Framed before the body exists: a head that frames no body (a bad Content-Length) rejects the request, not a body nobody has.
            framing = method === 'HEAD' ? lengthFraming(0, deliver) : framingOf(head, deliver);
            const answer = new KeptAliveBody(() => socket.resume());
            // A reader that gives up before the end leaves bytes on the connection: it cannot serve again.
            answer.once('close', () => {
              if (done) return;
              done = true;
              detach();
              socket.destroy();
            });
            body = answer;
            resolve({ statusCode: head.status, headers: head.headers, body: answer });
          }
          if (framing.push(rest)) complete(persistent);
        } catch (e) {
          fail(e as Error);
        }
      };
      const onClose = () => {
        if (framing?.closed()) complete(false);
        else fail(networkError(`${url.host} closed the connection before the response ended`, 'ECONNRESET'));
      };
      const onError = (e: Error) => fail(e);
      const onTimeout = () => fail(networkError(`no data from ${url.host} for ${IDLE_TIMEOUT_MS / 1000} s`, 'ETIMEDOUT'));
      socket.on('data', onData).on('close', onClose).on('error', onError).on('timeout', onTimeout);
      socket.resume();
      const lines = [`${method} ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, ...(keep ? [] : ['connection: close'])];
      for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
  }
}
