/**
 * Mutation classes and checks (`check:...`) left out of the short run (fuzz.test.ts) until the fixes
 * for them merge, per target. Each fails today in code other branches are
 * changing; /work/fuzz-findings.md has the inputs. After merging, delete the
 * entry and the short run covers the class.
 */
export const KNOWN_AFTER_MERGE = {
  // Issue 9 defect 2: a PAX size record below zero moves the parser backwards (hangs, or a result that depends on the chunking).
  tar: ['tar-pax-negative-size'],
  // Also: an error in the chunk that completes a file's content is lost, and the layer reads as whole (layerReader.ts).
  layer: ['tar-pax-negative-size', 'check:layer-random-chunks'],
  // Also: deferred directory times applied through a parent replaced by a symlink (issue 9 defect 1), and causes of
  // failures that are plain Error, RangeError or raw errno (hard link targets, PAX uid/gid out of range, xattr names).
  // A layer that ends inside a file's content can kill the process: applyLayer rejects, and the content stream's
  // 'error' is emitted again with no listener (uncaught). Truncations come from these mutations.
  unpack: ['tar-pax-negative-size', 'known-escapes', 'check:unpack-typed-errors', 'tar-numeric', 'truncate', 'splice'],
};
