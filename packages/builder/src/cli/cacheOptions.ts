import type { Command } from 'commander';
import type { BuildRequest } from '../executor/buildRequest.js';
import type { Credentials } from '@tsbuild/registry';

const collect = (value: string, previous: string[]) => [...previous, value];

export interface CacheOptions {
  cacheFrom: string[];
  cacheTo: string[];
}

/** `--cache-from`/`--cache-to` as buildx spells them (their registries take build's `--creds`). */
export function withCacheOptions(cmd: Command): Command {
  return cmd
    .option('--cache-from <type=registry,ref=REF|type=local,src=DIR>', 'take steps from a shared build cache (a cache artifact, or an image built with --cache-to type=inline); repeatable', collect, [])
    .option('--cache-to <type=registry,ref=REF|type=local,dest=DIR|type=inline>', 'export the build\'s steps to a shared cache (,mode=max: every stage\'s steps); repeatable', collect, []);
}

/** The request fields the cache flags give; a bad value fails before anything is built (exit 125). */
export async function cacheRequest(opts: CacheOptions, credentials: Credentials | undefined): Promise<Pick<BuildRequest, 'cacheFrom' | 'cacheTo' | 'credentials' | 'warn'>> {
  // Loaded here, not with the flags: `build --help` needs none of the cache specs' parsing (#14).
  const { parseCacheExport, parseCacheImport } = await import('../cache/cacheSpec.js');
  return {
    cacheFrom: opts.cacheFrom.map(parseCacheImport),
    cacheTo: opts.cacheTo.map(parseCacheExport),
    ...(credentials ? { credentials } : {}),
    warn: (line) => process.stderr.write(`WARNING: ${line}\n`),
  };
}
