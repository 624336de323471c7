import { resolve } from 'node:path';
import { parseImageLocation } from '@tsbuild/oci-layout';
import type { NamedContext } from '../executor/buildRequest.js';

/**
 * `--build-context NAME=VALUE`, BuildKit's named contexts: VALUE is a directory,
 * `docker-image://REF` (an image in place of `FROM NAME`), or `oci-layout://DIR[:TAG]`.
 */
export function parseBuildContexts(values: string[]): Record<string, NamedContext> {
  const out: Record<string, NamedContext> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const name = value.slice(0, eq);
    const source = value.slice(eq + 1);
    if (eq <= 0 || source === '') throw new Error(`invalid --build-context "${value}": expected NAME=DIR or NAME=docker-image://REF`);
    if (source.startsWith('docker-image://')) out[name] = { kind: 'image', location: { transport: 'store', name: source.slice('docker-image://'.length) } };
    else if (source.startsWith('oci-layout://')) out[name] = { kind: 'image', location: parseImageLocation(`oci:${source.slice('oci-layout://'.length)}`) };
    else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) throw new Error(`--build-context "${value}": only directories, docker-image:// and oci-layout:// are supported`);
    else out[name] = { kind: 'dir', dir: resolve(source) };
  }
  return out;
}
