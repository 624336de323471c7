import type { Command } from 'commander';
import { parseCacheExport, parseCacheImport } from '../cache/cacheSpec.js';
import type { BuildRequest } from '../executor/buildImage.js';
import { parseCreds } from './credsOption.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export interface CacheOptions {
  cacheFrom: string[];
  cacheTo: string[];
  creds?: string;
}

/** `--cache-from`/`--cache-to` as buildx spells them, and `--creds` for the registries they name. */
export function withCacheOptions(cmd: Command): Command {
  return cmd
    .option('--cache-from <type=registry,ref=REF|type=local,src=DIR>', 'take steps from a shared build cache (a cache artifact, or an image built with --cache-to type=inline); repeatable', collect, [])
    .option('--cache-to <type=registry,ref=REF|type=local,dest=DIR|type=inline>', 'export the build\'s steps to a shared cache (,mode=max: every stage\'s steps); repeatable', collect, [])
    .option('--creds <USERNAME[:PASSWORD]>', 'credentials for the registries of --cache-from/--cache-to, instead of stored ones');
}

/** The request fields the cache flags give; a bad value fails before anything is built (exit 125). */
export async function cacheRequest(opts: CacheOptions): Promise<Pick<BuildRequest, 'cacheFrom' | 'cacheTo' | 'credentials' | 'warn'>> {
  return {
    cacheFrom: opts.cacheFrom.map(parseCacheImport),
    cacheTo: opts.cacheTo.map(parseCacheExport),
    ...(opts.creds !== undefined ? { credentials: await parseCreds(opts.creds, '--creds') } : {}),
    warn: (line) => process.stderr.write(`WARNING: ${line}\n`),
  };
}
