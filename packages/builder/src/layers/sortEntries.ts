import { compareLayerPaths, type LayerEntry } from '@tsbuild/oci-layout';

/**
 * Puts entries in canonical layer order. A hard link must come after the
 * file it names, so where sorting puts a link first, the two swap roles:
 * the first name becomes the file and the others link to it.
 */
export function sortEntries(entries: Iterable<LayerEntry>): LayerEntry[] {
  const list = [...entries].sort((a, b) => compareLayerPaths(a.path, b.path));
  // The bookkeeping below costs a map entry per path; a tree without hard links needs none of it.
  if (!list.some((e) => e.type === 'hardlink')) return list;
  const index = new Map(list.map((e, i) => [e.path, i]));
  const written = new Set<string>();
  const movedTo = new Map<string, string>();
  for (const [i, entry] of list.entries()) {
    if (entry.type === 'hardlink' && entry.linkname !== undefined) {
      const target = movedTo.get(entry.linkname) ?? entry.linkname;
      if (written.has(target) || !index.has(target)) {
        list[i] = { ...entry, linkname: target };
      } else {
        const t = index.get(target)!;
        const file = list[t]!;
        list[i] = { ...file, path: entry.path };
        list[t] = { ...file, type: 'hardlink', linkname: entry.path, size: 0, content: undefined, open: undefined, read: undefined };
        movedTo.set(target, entry.path);
      }
    }
    written.add(list[i]!.path);
  }
  return list;
}
