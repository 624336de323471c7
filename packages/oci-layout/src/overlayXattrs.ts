/**
 * overlayfs keeps its own state in `trusted.overlay.*` xattrs (opaque,
 * redirect, origin, metacopy, ...) of its layer directories. A name from an
 * image must never become one of those, or the image could steer what an
 * overlay mount over the unpacked tree shows. Since Linux 6.7 overlayfs has
 * an escape for exactly this: `trusted.overlay.overlay.X` on a layer appears
 * as `trusted.overlay.X` in the mount (and the mount escapes what is written
 * through it the same way). umoci's overlayfs mode uses the same escape.
 */
const OVERLAY_PREFIX = 'trusted.overlay.';
const ESCAPED_PREFIX = 'trusted.overlay.overlay.';

/** The on-disk name, in a plain directory, of an xattr an image carries. */
export function escapeOverlayXattr(name: string): string {
  return name.startsWith(OVERLAY_PREFIX) ? ESCAPED_PREFIX + name.slice(OVERLAY_PREFIX.length) : name;
}

/** The image's name of an xattr read from a layer directory; undefined for overlayfs's own state. */
export function unescapeOverlayXattr(name: string): string | undefined {
  if (!name.startsWith(OVERLAY_PREFIX)) return name;
  return name.startsWith(ESCAPED_PREFIX) ? OVERLAY_PREFIX + name.slice(ESCAPED_PREFIX.length) : undefined;
}
