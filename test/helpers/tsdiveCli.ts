import { execFile } from 'node:child_process';
import { REPO_ROOT, TSDIVE_BIN } from './tsbuildCli.js';

export interface TsdiveResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built `tsdive` CLI (npm test builds it first) with no terminal and
 * no stdin. CI is removed from the environment unless the caller sets it:
 * CI=true switches tsdive to its CI mode, and CI runs the tests with it set.
 */
export function tsdive(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<TsdiveResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  if (!opts.env?.CI) delete env.CI;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [TSDIVE_BIN, ...args], { cwd: opts.cwd ?? REPO_ROOT, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}
