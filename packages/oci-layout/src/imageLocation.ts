import { resolve } from 'node:path';
import { FAILURE_EXIT_CODE, ToolError } from './toolError.js';

/**
 * Where an image lives, as every command and tsdive spell it (skopeo's
 * transport syntax): a name or ID in the local store, `docker://REF`,
 * `oci:PATH[:REF]`, `oci-archive:PATH[:REF]`, `docker-archive:PATH[:REF|:@N]`.
 * Parsed here once, as go-containerregistry's pkg/name parses references once.
 */
export type ImageLocation =
  | { transport: 'store'; name: string }
  | { transport: 'docker'; reference: string }
  | { transport: 'oci' | 'oci-archive'; path: string; ref?: string }
  /** `ref` is one of the archive's RepoTags, or (skopeo's `@N`) the index of its manifest.json entry. */
  | { transport: 'docker-archive'; path: string; ref?: string | number };

export type ImageTransport = ImageLocation['transport'];

/** An image location that cannot be used: text that names no image, or a place this command cannot reach. */
export class ImageLocationError extends ToolError<'invalid-location' | 'not-qualified' | 'no-store'> {
  constructor(kind: ImageLocationError['kind'], message: string) {
    // A failed copy, as skopeo exits for it.
    super(kind, message, FAILURE_EXIT_CODE);
  }
}

const PATH_TRANSPORTS = ['oci-archive', 'docker-archive', 'oci'] as const;

/** The transport `text` names with a `transport:` prefix, if any (a plain name is the store's, but names none). */
export function explicitTransport(text: string): ImageTransport | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const prefix = text.slice(0, colon);
  return prefix === 'docker' || prefix === 'store' || (PATH_TRANSPORTS as readonly string[]).includes(prefix) ? (prefix as ImageTransport) : undefined;
}

/**
 * The one reading of an image location. Its rules are skopeo's (containers/image):
 * - `PATH:REF` splits at the FIRST colon after the transport, so a REF may hold
 *   colons (`oci:dir:localhost/app:1.0`) and a PATH may not;
 * - `docker:` must be followed by `//`;
 * - `docker-archive:PATH:@N` picks the archive's N-th image;
 * - `store:NAME` names the local store explicitly (skopeo's containers-storage:),
 *   and any text without a known transport is a store name or ID.
 * Paths are made absolute against the working directory.
 */
export function parseImageLocation(text: string): ImageLocation {
  const transport = explicitTransport(text);
  const rest = transport ? text.slice(transport.length + 1) : text;
  switch (transport) {
    case undefined:
    case 'store':
      if (!rest) throw new ImageLocationError('invalid-location', `"${text}" names no image`);
      return { transport: 'store', name: rest };
    case 'docker': {
      if (!rest.startsWith('//')) throw new ImageLocationError('invalid-location', `"${text}": a docker reference starts with // (docker://REGISTRY/REPO[:TAG])`);
      const reference = rest.slice(2);
      if (!reference) throw new ImageLocationError('invalid-location', `"${text}" names no image after docker://`);
      return { transport: 'docker', reference };
    }
    default: {
      const colon = rest.indexOf(':');
      const path = colon < 0 ? rest : rest.slice(0, colon);
      const ref = colon < 0 ? '' : rest.slice(colon + 1);
      if (!path) throw new ImageLocationError('invalid-location', `"${text}" names no path after ${transport}:`);
      if (transport === 'docker-archive' && ref.startsWith('@')) {
        const index = Number(ref.slice(1));
        if (!/^@\d+$/.test(ref)) throw new ImageLocationError('invalid-location', `"${text}": @${ref.slice(1)} is not an image index (docker-archive:PATH:@N)`);
        return { transport, path: resolve(path), ref: index };
      }
      return { transport, path: resolve(path), ...(ref ? { ref } : {}) };
    }
  }
}

/** The text `parseImageLocation` reads back as `loc` (a store name prints as itself, unless it looks like another transport). */
export function formatImageLocation(loc: ImageLocation): string {
  switch (loc.transport) {
    case 'docker':
      return `docker://${loc.reference}`;
    case 'store':
      return explicitTransport(loc.name) ? `store:${loc.name}` : loc.name;
    default:
      return `${loc.transport}:${loc.path}${loc.ref === undefined ? '' : `:${typeof loc.ref === 'number' ? `@${loc.ref}` : loc.ref}`}`;
  }
}
