import { createRequire } from 'node:module';
import type * as Crypto from 'node:crypto';
import type * as Zlib from 'node:zlib';

const require = createRequire(import.meta.url);
let crypto: typeof Crypto | undefined;
let zlib: typeof Zlib | undefined;

/**
 * node:crypto, loaded on first use: Node compiles it, cipher parts and all, when it is first
 * imported (~10 ms), which a command that hashes nothing (`images` of an empty store, `ps`,
 * `--help`) need not pay (#14).
 */
export function nodeCrypto(): typeof Crypto {
  crypto ??= require('node:crypto') as typeof Crypto;
  return crypto;
}

/** node:zlib, loaded on first use (~5 ms), for the same reason as nodeCrypto. */
export function nodeZlib(): typeof Zlib {
  zlib ??= require('node:zlib') as typeof Zlib;
  return zlib;
}
