/**
 * A `COPY --parents` source as BuildKit reads it, like rsync's --relative: the
 * directory whose subtree is copied with its paths kept (the context root, or
 * what comes before a `/./` in the source), and the pattern that selects in it
 * (`**` any number of directories, a matched directory with all below it).
 */
import path from 'node:path/posix';
import { hasGlob } from '../context/globPattern.js';
import { InstructionError } from './instructionError.js';

export interface ParentsSource {
  /** Context-relative directory the kept paths are relative to ("" for the root). */
  base: string;
  /** "" when the source is the base itself: all of it. */
  pattern: string;
}

export function splitParentsSource(source: string): ParentsSource {
  const rel = source.replace(/^(?:\.?\/)+/, '');
  const pivot = rel.indexOf('/./');
  const base = pivot < 0 ? '' : path.normalize(`/${rel.slice(0, pivot)}`).slice(1);
  const pattern = path.normalize(`/${pivot < 0 ? rel : rel.slice(pivot + 3)}`).slice(1);
  if (hasGlob(base)) throw new InstructionError(`--parents: a wildcard before "./" is not supported: "${source}"`);
  return { base, pattern };
}
