import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The tsbuild CLI for `tsdive build`: the workspace's own when tsdive runs
 * from the repository (inspect-tui does not import the builder; it runs it),
 * else `npx tsbuild`.
 */
function tsbuildCommand(): [string, string[]] {
  const workspaceBin = fileURLToPath(new URL('../../../builder/bin/tsbuild.js', import.meta.url));
  return existsSync(workspaceBin) ? [process.execPath, [workspaceBin]] : ['npx', ['--no-install', 'tsbuild']];
}

/** Runs tsbuild with its progress on our stderr; returns its exit code and what it printed on stdout. */
export async function runTsbuild(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const [command, prefix] = tsbuildCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefix, ...args], { stdio: ['ignore', 'pipe', 2] });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      process.stderr.write(d);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout }));
  });
}
