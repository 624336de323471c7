import { parseDigest, type Digest } from './digest.js';

/** A fully qualified image reference: `registry/repository[:tag][@digest]`. */
export interface ImageName {
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}

export class InvalidImageNameError extends Error {}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const REGISTRY = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;

function looksLikeRegistry(first: string): boolean {
  return first === 'localhost' || first.includes('.') || first.includes(':') || first.startsWith('[');
}

/**
 * Parses a user-typed name the way podman does for local images: a name
 * without a registry host is local (`hello` -> `localhost/hello:latest`), and
 * a missing tag means `latest` unless a digest is given.
 */
export function parseImageName(input: string, defaultRegistry = 'localhost'): ImageName {
  const fail = (why: string): never => {
    throw new InvalidImageNameError(`invalid image name "${input}": ${why}`);
  };
  if (input.length === 0) fail('empty');
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    try {
      digest = parseDigest(rest.slice(at + 1));
    } catch (e) {
      fail((e as Error).message);
    }
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`bad tag "${tag}"`);
  }
  const parts = rest.split('/');
  let registry = defaultRegistry;
  if (parts.length > 1 && looksLikeRegistry(parts[0]!)) {
    registry = parts.shift()!;
    if (!REGISTRY.test(registry)) fail(`bad registry host "${registry}"`);
  }
  for (const part of parts) {
    if (!COMPONENT.test(part)) fail(`"${part}" must be lowercase letters, digits and separators (. _ __ -)`);
  }
  // Docker Hub's official images live under library/, as docker and podman resolve them.
  const repository = registry === 'docker.io' && parts.length === 1 ? `library/${parts[0]}` : parts.join('/');
  return { registry, repository, ...(tag || !digest ? { tag: tag ?? 'latest' } : {}), ...(digest ? { digest } : {}) };
}

export function formatImageName(name: ImageName): string {
  return `${name.registry}/${name.repository}${name.tag ? `:${name.tag}` : ''}${name.digest ? `@${name.digest}` : ''}`;
}

/** `hello` -> `localhost/hello:latest`. */
export function normalizeImageName(input: string): string {
  return formatImageName(parseImageName(input));
}
