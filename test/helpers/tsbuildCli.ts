import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const TSBUILD_BIN = fileURLToPath(new URL('../../packages/builder/bin/tsbuild.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TSDIVE_BIN = fileURLToPath(new URL('../../packages/inspect-tui/bin/tsdive.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `tsbuild` CLI (npm test builds it first) as a user would. */
export function tsbuild(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSBUILD_BIN, ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** `tsbuild` that must succeed: its result, or an error with its stderr. */
export async function tsbuildOk(args: string[], opts: Parameters<typeof tsbuild>[1] = {}): Promise<CliResult> {
  const r = await tsbuild(args, opts);
  if (r.code !== 0) throw new Error(`tsbuild ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}
