import { connect as netConnect, isIP } from 'node:net';
import { printableText } from '@tsbuild/oci-layout';

/**
 * One HTTP/1.1 GET on a connection of its own (`Connection: close`), its body handed over in
 * pieces read into one reused buffer. For large blob downloads: Node's HTTP client allocates a
 * buffer for every 64 KiB read and runs each through its parser and stream machinery, which
 * measured at 4x the CPU of this for a 100 MB blob on loopback (600-1300 ms against 150-260 ms).
 */

export interface ResponseHead {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

/** Chooses what receives a response's body once its head is known; a piece is valid only during the call. */
export type BodySink = (head: ResponseHead) => (piece: Buffer) => void;

const READ_BUFFER_BYTES = 1024 * 1024;
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4096;
/** 1xx answers taken before the response itself. */
const MAX_INTERIM_ANSWERS = 8;
/** What undici allows a silent connection, headers or body. */
export const IDLE_TIMEOUT_MS = 300_000;

export function networkError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

export function parseHead(text: string): ResponseHead {
  const [statusLine, ...lines] = text.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (!match) throw networkError(`not an HTTP/1.1 response: "${printableText(statusLine?.slice(0, 80) ?? '')}"`, 'EPROTO');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(match[1]), headers };
}

/**
 * A response's head as a connection delivers it, past at most MAX_INTERIM_ANSWERS interim (1xx)
 * answers (100 Continue: never asked for, but allowed; a server that sends nothing else is not
 * waited on forever) and at most MAX_HEAD_BYTES of it.
 */
export class ResponseHeadReader {
  private bytes: Buffer = Buffer.alloc(0);
  private interim = 0;

  constructor(private readonly host: string) {}

  /** The final head and the bytes after it, once it is whole; undefined until then. Kept bytes are copies: `data` may be a reused buffer. */
  push(data: Buffer): { head: ResponseHead; rest: Buffer } | undefined {
    this.bytes = Buffer.concat([this.bytes, data]);
    for (;;) {
      const end = this.bytes.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.bytes.length > MAX_HEAD_BYTES) throw networkError(`response headers larger than ${MAX_HEAD_BYTES} bytes`, 'EPROTO');
        return undefined;
      }
      const head = parseHead(this.bytes.toString('latin1', 0, end));
      const rest = this.bytes.subarray(end + 4);
      this.bytes = rest;
      if (head.status >= 200) return { head, rest };
      if (++this.interim > MAX_INTERIM_ANSWERS) throw networkError(`${this.host} sent more than ${MAX_INTERIM_ANSWERS} interim (1xx) answers`, 'EPROTO');
    }
  }
}

/** A body's framing: `push` takes the bytes read and says whether the body is complete; `closed` whether a closed connection ends it. */
export interface BodyFraming {
  push(data: Buffer): boolean;
  closed(): boolean;
}

export function lengthFraming(length: number, out: (piece: Buffer) => void): BodyFraming {
  let left = length;
  return {
    push(data) {
      const piece = data.length > left ? data.subarray(0, left) : data;
      left -= piece.length;
      if (piece.length > 0) out(piece);
      return left === 0;
    },
    closed: () => left === 0,
  };
}

function untilCloseFraming(out: (piece: Buffer) => void): BodyFraming {
  return {
    push(data) {
      if (data.length > 0) out(data);
      return false;
    },
    closed: () => true,
  };
}

/** `Transfer-Encoding: chunked`: size lines, data, CRLF, ..., a zero size, trailers, an empty line. */
function chunkedFraming(out: (piece: Buffer) => void): BodyFraming {
  let state: 'size' | 'data' | 'data-end' | 'trailer' = 'size';
  let line = '';
  let left = 0;
  return {
    push(data) {
      let i = 0;
      while (i < data.length) {
        if (state === 'data') {
          const n = Math.min(left, data.length - i);
          out(data.subarray(i, i + n));
          i += n;
          left -= n;
          if (left === 0) state = 'data-end';
          continue;
        }
        const newline = data.indexOf(10, i);
        line += data.toString('latin1', i, newline < 0 ? data.length : newline);
        if (line.length > MAX_CHUNK_LINE) throw networkError('a chunked response line is too long', 'EPROTO');
        if (newline < 0) return false;
        i = newline + 1;
        const text = line.replace(/\r$/, '');
        line = '';
        if (state === 'size') {
          left = Number.parseInt(text.split(';')[0]!.trim(), 16);
          if (!Number.isSafeInteger(left) || left < 0) throw networkError(`bad chunk size "${printableText(text.slice(0, 40))}"`, 'EPROTO');
          state = left === 0 ? 'trailer' : 'data';
        } else if (state === 'data-end') {
          if (text !== '') throw networkError('a chunk does not end where its size says', 'EPROTO');
          state = 'size';
        } else if (text === '') {
          return true;
        }
      }
      return false;
    },
    closed: () => false,
  };
}

export function framingOf(head: ResponseHead, out: (piece: Buffer) => void): BodyFraming {
  if (head.status === 204 || head.status === 304 || head.status < 200) return lengthFraming(0, out);
  if (/\bchunked\b/i.test(head.headers['transfer-encoding'] ?? '')) return chunkedFraming(out);
  const length = head.headers['content-length'];
  if (length !== undefined) {
    if (!/^\d+$/.test(length)) throw networkError(`bad Content-Length "${printableText(length.slice(0, 40))}"`, 'EPROTO');
    return lengthFraming(Number(length), out);
  }
  return untilCloseFraming(out);
}

/**
 * GETs `url` and resolves with the response's head once its whole body has gone to `sink`.
 * Network failures reject with the error's code (ECONNRESET for a body cut short).
 */
export async function directGet(url: URL, headers: Record<string, string>, insecure: boolean, sink: BodySink): Promise<ResponseHead> {
  const https = url.protocol === 'https:';
  // Loaded only for HTTPS: a plain-HTTP pull does not compile it.
  const tlsConnect = https ? (await import('node:tls')).connect : undefined;
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port || (https ? 443 : 80));
    let head: ResponseHead | undefined;
    const heads = new ResponseHeadReader(url.host);
    let body: BodyFraming | undefined;
    let settled = false;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error === undefined) resolve(head!);
      else reject(error);
    };
    const feed = (data: Buffer) => {
      if (settled) return;
      try {
        let rest = data;
        if (!body) {
          const answer = heads.push(data);
          if (!answer) return;
          ({ head, rest } = answer);
          body = framingOf(head, sink(head));
        }
        if (body.push(rest)) finish();
      } catch (e) {
        finish(e);
      }
    };
    const request = [`GET ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, 'connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
    const socket = tlsConnect
      ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host, rejectUnauthorized: !insecure })
      : netConnect({
          host,
          port,
          onread: {
            buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
            callback: (n: number, buffer: Uint8Array) => {
              feed(Buffer.from(buffer.buffer, buffer.byteOffset, n));
              return !settled;
            },
          },
        });
    // TLS sockets deliver what they decrypt as buffers of their own.
    if (https) socket.on('data', feed);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => finish(networkError(`no data from ${url.host} for ${IDLE_TIMEOUT_MS / 1000} s`, 'ETIMEDOUT')));
    socket.once(https ? 'secureConnect' : 'connect', () => socket.write(request));
    socket.on('error', finish);
    socket.on('close', () => {
      if (head && body?.closed()) finish();
      else finish(networkError(`${url.host} closed the connection before the response ended`, 'ECONNRESET'));
    });
  });
}
