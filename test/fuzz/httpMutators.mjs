/**
 * Mutations of scripted HTTP answers (the `registry-answer` target): each
 * knows an input is answers joined by ANSWER_SEPARATOR, and an answer is a
 * head (status line, header lines, CRLF CRLF) and a body. Names matter, as
 * in mutators.mjs: a class can be left out until its fix merges.
 */
import { BYTE_MUTATORS, insertToken } from './mutators.mjs';

const SEPARATOR = '\n@@next-answer@@\n';

function answersOf(input) {
  return input.toString('latin1').split(SEPARATOR);
}

function joined(answers) {
  return Buffer.from(answers.join(SEPARATOR), 'latin1');
}

/** One answer changed by `change(rng, answer)`, the others as they were. */
function onAnswer(name, change) {
  return {
    name,
    apply(rng, input) {
      const answers = answersOf(input);
      const at = rng.below(answers.length);
      answers[at] = change(rng, answers[at]);
      return joined(answers);
    },
  };
}

function splitHead(answer) {
  const end = answer.indexOf('\r\n\r\n');
  return end < 0 ? { lines: answer.split('\r\n'), body: undefined } : { lines: answer.slice(0, end).split('\r\n'), body: answer.slice(end + 4) };
}

function joinHead({ lines, body }) {
  return body === undefined ? lines.join('\r\n') : `${lines.join('\r\n')}\r\n\r\n${body}`;
}

const STATUSES = [100, 101, 103, 199, 200, 201, 202, 204, 206, 300, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 408, 416, 429, 500, 502, 503, 504, 599, 600, 999];
const STATUS_LINES = ['HTTP/1.1 200', 'HTTP/1.0 200 OK', 'HTTP/2 200', 'HTTP/1.1 2000 OK', 'HTTP/1.1 20 OK', 'http/1.1 200 ok', 'HTTP/1.1  200 OK', 'HTTP/1.1 -01 x', 'ICY 200 OK', '', 'HTTP/1.1 200 \u00ff\u00fe'];

/** The status code changed, or the whole status line replaced by one that bends the grammar. */
export const httpStatus = onAnswer('http-status', (rng, answer) => {
  const head = splitHead(answer);
  if (rng.chance(0.7)) head.lines[0] = (head.lines[0] ?? '').replace(/^(HTTP\/\S*\s+)\d*/, `$1${rng.pick(STATUSES)}`);
  else head.lines[0] = rng.pick(STATUS_LINES);
  return joinHead(head);
});

/** Headers a registry sends, and ones it should not: lengths that lie, framing both ways, redirects and challenges that go nowhere. */
const HEADERS = [
  'Content-Length: 0', 'Content-Length: 1', 'Content-Length: 99999999999', 'Content-Length: 18446744073709551616', 'Content-Length: -1', 'Content-Length: 1e3',
  'Content-Length: 0x10', 'Content-Length: 5, 5', 'Content-Length:', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: identity',
  'Connection: close', 'Connection: keep-alive', 'Content-Encoding: gzip', 'Content-Type: application/vnd.oci.image.index.v1+json',
  'Content-Type: application/vnd.docker.distribution.manifest.list.v2+json', 'Content-Type: application/vnd.docker.distribution.manifest.v2+json', 'Content-Type: text/html',
  'Docker-Content-Digest: sha256:', `Docker-Content-Digest: sha256:${'0'.repeat(64)}`, `Docker-Content-Digest: sha512:${'0'.repeat(128)}`, 'Docker-Content-Digest: md5:x',
  'Location: /v2/fuzz/app/blobs/uploads/x', 'Location: {{origin}}/elsewhere', 'Location: //127.0.0.1:1/x', 'Location: http://[::1', 'Location: file:///etc/passwd',
  'Location: ftp://127.0.0.1/x', 'Location: http://127.0.0.1:99999/x', 'Location: ', 'Location: \u00e9\u00e8', 'Location: ..%2f..%2f',
  'WWW-Authenticate: Bearer realm="{{origin}}/token",service="s"', 'WWW-Authenticate: Bearer', 'WWW-Authenticate: Bearer realm=""', 'WWW-Authenticate: Bearer realm="not a url"',
  'WWW-Authenticate: Bearer realm="file:///etc/passwd"', 'WWW-Authenticate: Basic', 'WWW-Authenticate: Negotiate', 'WWW-Authenticate: ', 'WWW-Authenticate: Bearer realm="{{origin}}/token", Basic realm="x"',
  'Retry-After: 0', 'Retry-After: 1', 'Retry-After: 99999999999999999999', 'Retry-After: Wed, 21 Oct 2015 07:28:00 GMT', 'Retry-After: -1', 'Retry-After: x',
  'Content-Range: bytes 0-0/1', 'Content-Range: bytes 5-1/2', 'Range: 0-99', 'Link: </v2/fuzz/app/tags/list?n=1>; rel="next"',
  ': no name', 'no colon', ' leading-space: x', 'X-\u00ff: \u0080', 'X-Null: a\u0000b', 'X-Bare-CR: a\rb', 'X-Escape: \u001b[31mred\u001b[0m',
];

export const httpHeader = onAnswer('http-header', (rng, answer) => {
  const head = splitHead(answer);
  head.lines.splice(rng.between(1, head.lines.length), 0, rng.pick(HEADERS));
  return joinHead(head);
});

/** A header line of the answer repeated (same or another value), or dropped. */
export const httpHeaderRepeat = onAnswer('http-header-repeat', (rng, answer) => {
  const head = splitHead(answer);
  if (head.lines.length < 2) return answer;
  const at = rng.between(1, head.lines.length - 1);
  if (rng.chance(0.3)) head.lines.splice(at, 1);
  else head.lines.splice(rng.between(1, head.lines.length), 0, rng.chance(0.5) ? head.lines[at] : head.lines[at].replace(/:.*/, `: ${rng.pick(['0', '1', 'x', '', '99999999999'])}`));
  return joinHead(head);
});

/** Headers past the client's head limit, or very many small ones. */
export const httpHugeHead = onAnswer('http-huge-head', (rng, answer) => {
  const head = splitHead(answer);
  const line = rng.chance(0.5) ? `X-Big: ${'a'.repeat(rng.pick([60_000, 65_530, 66_000, 140_000]))}` : Array.from({ length: rng.pick([100, 2000, 5000]) }, (_, i) => `X-${i}: v`).join('\r\n');
  head.lines.splice(1, 0, line);
  return joinHead(head);
});

/** Content-Length moved off the body's real length, a little or a lot. */
export const httpLength = onAnswer('http-length', (rng, answer) =>
  answer.replace(/(content-length:\s*)(\d+)/i, (_, name, value) => `${name}${Math.max(0, Number(value) + rng.pick([-1, 1, -100, 100, -Number(value), 1e6, 2 ** 32]))}`),
);

/** A chunk size line changed: off by some, huge, not hex, with extensions; or a chunk's closing CRLF lost. */
export const httpChunk = onAnswer('http-chunk', (rng, answer) => {
  const sizes = [...answer.matchAll(/\r\n([0-9a-fA-F]+)(;[^\r\n]*)?\r\n/g)];
  if (sizes.length === 0) return answer;
  const m = rng.pick(sizes);
  const size = Number.parseInt(m[1], 16);
  const replacement = rng.pick([(size + 1).toString(16), Math.max(0, size - 1).toString(16), 'ffffffffffffffff', '7fffffff', '-1', 'zz', '', ' 10', `${m[1]};${'e'.repeat(5000)}`, `${m[1]}\n`, '0']);
  return `${answer.slice(0, m.index)}\r\n${replacement}\r\n${answer.slice(m.index + m[0].length)}`;
});

/** Answers dropped, repeated or swapped: a registry that answers the wrong request. */
export const httpAnswers = {
  name: 'http-answers',
  apply(rng, input) {
    const answers = answersOf(input);
    const at = rng.below(answers.length);
    switch (rng.below(3)) {
      case 0:
        if (answers.length > 1) answers.splice(at, 1);
        break;
      case 1:
        answers.splice(rng.below(answers.length + 1), 0, answers[at]);
        break;
      default: {
        const other = rng.below(answers.length);
        [answers[at], answers[other]] = [answers[other], answers[at]];
      }
    }
    return joined(answers);
  },
};

/** Words that bend bodies, challenges and token answers. */
const TOKENS = ['\r\n', '\n', '\r', '\r\n\r\n', ':', ';', ',', '"', '\\', ' ', '\u0000', '\u00ff', '\u001b[2J', '{', '}', 'null', '{"token":null}', '{"token":1}', '[]', '"expires_in":-1e400,',
  'HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(9), 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(3000), 'HTTP/1.1 200 OK\r\n', '0\r\n\r\n', SEPARATOR, '{{zeros:70000}}', '{{zeros:4194304}}'];

export const HTTP_MUTATORS = [...BYTE_MUTATORS, httpStatus, httpHeader, httpHeader, httpHeaderRepeat, httpHugeHead, httpLength, httpLength, httpChunk, httpAnswers, insertToken(TOKENS)];
