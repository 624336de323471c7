import type { CopySource } from '../context/buildContext.js';
import { createIgnoreMatcher } from '../dockerfile/dockerignore.js';
import { splitParentsSource } from '../dockerfile/parentsSource.js';
import type { CopyOp } from '../dockerfile/stageState.js';
import { isRemoteSource } from './remoteSource.js';

/**
 * A COPY/ADD's local sources as the context (or `--from` filesystem) gives
 * them: each with what --exclude leaves out below it. A `--parents` source is
 * its base directory, everything below it left out but what its pattern
 * selects, then --exclude's patterns, the last match winning as in
 * .dockerignore: BuildKit's include and exclude patterns, matched relative to it.
 */
export function copySources(op: CopyOp): CopySource[] {
  const local = op.sources.filter((s) => !isRemoteSource(s));
  if (op.parents) {
    return local.map((source) => {
      const { base, pattern } = splitParentsSource(source);
      const patterns = pattern === '' ? op.exclude : ['**', `!${pattern}`, ...op.exclude];
      const path = base === '' ? '.' : base;
      return patterns.length > 0 ? { path, exclude: createIgnoreMatcher(patterns) } : { path };
    });
  }
  if (op.exclude.length === 0) return local.map((path) => ({ path }));
  const exclude = createIgnoreMatcher(op.exclude);
  return local.map((path) => ({ path, exclude }));
}
