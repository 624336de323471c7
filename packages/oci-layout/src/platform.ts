import { isIndexMediaType, isManifestMediaType } from './mediaTypes.js';
import type { Descriptor, Index, Platform } from './schema.js';

function platformMatches(candidate: Platform | undefined, wanted: Platform): boolean {
  if (!candidate) return false;
  if (candidate.os !== wanted.os || candidate.architecture !== wanted.architecture) return false;
  return !wanted.variant || !candidate.variant || candidate.variant === wanted.variant;
}

/** Exactly the same platform (a missing variant equals an empty one). */
export function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}

const NODE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** The platform images run on here, named as image indexes name it. */
export function hostPlatform(): Platform {
  const architecture = NODE_ARCH[process.arch] ?? process.arch;
  const variant = architecture === 'arm64' ? 'v8' : architecture === 'arm' ? 'v7' : undefined;
  return { os: 'linux', architecture, ...(variant ? { variant } : {}) };
}

/** A descriptor that leads to no image (for the wanted platform): an index without it, or an artifact that is no image. */
export class NoImageError extends Error {}

/**
 * Picks the image of an index: the one for `platform` when asked, the only
 * one when there is one, else the one for this machine.
 */
export function chooseManifest(index: Index, platform?: Platform): Descriptor {
  const images = index.manifests.filter((d) => isManifestMediaType(d.mediaType) || isIndexMediaType(d.mediaType));
  const wanted = platform ?? (images.length === 1 ? undefined : hostPlatform());
  if (!wanted) {
    if (images.length === 1) return images[0]!;
    throw new NoImageError('the index lists no images');
  }
  // A nested index without a platform of its own may hold the wanted image: look inside it.
  const nested = images.filter((d) => isIndexMediaType(d.mediaType) && !d.platform);
  const match = images.find((d) => platformMatches(d.platform, wanted)) ?? (nested.length === 1 ? nested[0] : undefined);
  if (!match) {
    const have = images.map((d) => (d.platform ? formatPlatform(d.platform) : 'unknown')).join(', ');
    throw new NoImageError(`no image for platform ${formatPlatform(wanted)} in the index (it has: ${have || 'nothing'})`);
  }
  return match;
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** A platform string (`--platform`, `FROM --platform=`) that is not `os/arch[/variant]`. */
export class InvalidPlatformError extends Error {}

/** `os/arch[/variant]`, as --platform spells it. */
export function parsePlatform(value: string): Platform {
  const [os, architecture, variant, ...rest] = value.split('/');
  if (!os || !architecture || rest.length > 0) throw new InvalidPlatformError(`invalid platform "${value}": expected os/arch[/variant], e.g. linux/amd64`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}
