/**
 * Why a step was not taken from the build cache, as `--explain-cache` prints
 * it (JSON) and `--progress=plain` words it. Names only: a value of a build
 * arg, env variable or secret never appears.
 */
export type MissReason =
  | { kind: 'no-record' }
  | { kind: 'layer-removed' }
  | { kind: 'no-cache' }
  /** An earlier step was not cached either; `step` is the first of them in this chain. */
  | { kind: 'parent'; step: string }
  | { kind: 'base'; previous: string; current: string }
  /** Build settings (layer compression, SOURCE_DATE_EPOCH, platform, RUN network and container settings), by flag. */
  | { kind: 'settings'; names: string[] }
  | { kind: 'instruction' }
  | { kind: 'build-arg'; names: string[] }
  | { kind: 'env'; names: string[] }
  /** Context sources of a COPY/ADD (`instruction`) or a RUN bind mount: the first paths that changed and how many; count null: no listing (or a damaged one) to compare. */
  | { kind: 'sources'; instruction: string; paths: string[]; count: number | null }
  /** The stage or image a COPY --from or a RUN mount reads; `step`: the stage's first miss in this build. */
  | { kind: 'from'; instruction: string; step?: string }
  | { kind: 'remote'; count: number };

/** One step of the build and whether the cache had it (`--explain-cache`). */
export interface StepCacheReport {
  step: string;
  instruction: string;
  cached: boolean;
  reasons?: MissReason[];
}

/** A path as it can be shown on one line. */
function shownPath(path: string): string {
  return /[\x00-\x1f\x7f]/.test(path) ? JSON.stringify(path) : path;
}

function named(what: string, names: string[]): string {
  return `${what}${names.length > 1 ? 's' : ''} ${names.join(', ')} changed`;
}

function reasonText(r: MissReason): string {
  switch (r.kind) {
    case 'no-record':
      return 'no cache record';
    case 'layer-removed':
      return 'the cache record\'s layer was removed from the store';
    case 'no-cache':
      return 'cache disabled (--no-cache)';
    case 'parent':
      return `parent step changed (since ${r.step})`;
    case 'base':
      return `base image changed: ${r.previous} -> ${r.current}`;
    case 'settings':
      return named('build setting', r.names);
    case 'instruction':
      return 'instruction changed (after expansion)';
    case 'build-arg':
      return named('build arg', r.names);
    case 'env':
      return named('env', r.names);
    case 'sources': {
      const what = r.instruction === 'RUN' ? 'bind mount sources' : `${r.instruction} sources`;
      if (r.count === null) return `${what} changed`;
      const more = r.count > r.paths.length ? ', ...' : '';
      return `${what} changed: ${r.paths.map(shownPath).join(', ')}${more} (${r.count} path${r.count === 1 ? '' : 's'})`;
    }
    case 'from':
      return `the stage or image ${r.instruction === 'RUN' ? 'a bind mount' : `${r.instruction} --from`} reads changed${r.step ? ` (since ${r.step})` : ''}`;
    case 'remote':
      return `ADD URL content changed (${r.count} URL${r.count === 1 ? '' : 's'})`;
  }
}

/** `--> Cache miss: REASON; REASON`, the progress line under a step. */
export function missLine(reasons: MissReason[]): string {
  return `--> Cache miss: ${reasons.map(reasonText).join('; ')}`;
}
