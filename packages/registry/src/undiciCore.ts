import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

// undici's index loads every dispatcher, the mock agents, caches, fetch and
// WebSocket (about 70 ms of a CLI's start-up); a registry client needs only
// the Agent and the request API, which these two modules are.
const require = createRequire(import.meta.url);

// undici parses HTTP with llhttp compiled to WebAssembly. V8's optimising
// tier recompiles that module in the background and the process then waits
// for it before it can exit: about 100 ms of every short command (measured on
// `pull` of an image already in the store). The baseline compiler alone is
// plenty for header parsing; bodies are passed through, not parsed.
setFlagsFromString('--liftoff-only');

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
export type Agent = UndiciAgent;

const api = require('undici/lib/api/index.js') as { request(this: Dispatcher, opts: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> };

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path'>;

/** undici's `request(url, { dispatcher, ... })`, for the Agent above. */
export function request(url: string | URL, opts: RequestOptions & { dispatcher: Dispatcher }): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = opts;
  const target = typeof url === 'string' ? new URL(url) : url;
  return api.request.call(dispatcher, { ...rest, origin: target.origin, path: `${target.pathname}${target.search}` });
}
