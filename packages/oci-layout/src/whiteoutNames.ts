import type { LayerChange } from './layerEntry.js';

/** A member named `DIR/.wh.NAME` deletes `DIR/NAME` of the layers below (the OCI image spec's whiteout, from AUFS). */
export const WHITEOUT_PREFIX = '.wh.';
/** A member named `DIR/.wh..wh..opq` makes DIR opaque: what the layers below had in it is hidden. */
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

export type WhiteoutChange = Extract<LayerChange, { kind: 'whiteout' | 'opaque' }>;

/** The tar member name of a whiteout or opaque marker; `change.path` is normalised (see `normaliseLayerPath`). */
export function whiteoutMemberName(change: WhiteoutChange): string {
  const { path } = change;
  if (change.kind === 'opaque') return path === '' ? OPAQUE_WHITEOUT : `${path}/${OPAQUE_WHITEOUT}`;
  const slash = path.lastIndexOf('/');
  return `${path.slice(0, slash + 1)}${WHITEOUT_PREFIX}${path.slice(slash + 1)}`;
}

/** The tar member name a change is written as, which is what orders a layer's members. */
export function memberNameOf(change: LayerChange): string {
  return change.kind === 'entry' ? change.entry.path : whiteoutMemberName(change);
}

/**
 * What a normalised member name says: a whiteout or opaque marker, `undefined`
 * for an ordinary entry's name, or 'names-nothing' for `.wh.`, `.wh..` and
 * `.wh...`, markers that delete no file (a reader refuses them).
 */
export function whiteoutOfMemberName(path: string): WhiteoutChange | 'names-nothing' | undefined {
  const slash = path.lastIndexOf('/');
  if (!path.startsWith(WHITEOUT_PREFIX, slash + 1)) return undefined;
  const dir = slash < 0 ? '' : path.slice(0, slash);
  const hidden = path.slice(slash + 1 + WHITEOUT_PREFIX.length);
  if (`${WHITEOUT_PREFIX}${hidden}` === OPAQUE_WHITEOUT) return { kind: 'opaque', path: dir };
  if (hidden === '' || hidden === '.' || hidden === '..') return 'names-nothing';
  return { kind: 'whiteout', path: dir === '' ? hidden : `${dir}/${hidden}` };
}
