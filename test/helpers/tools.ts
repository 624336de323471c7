import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** Installs missing Debian packages when we are root (as `npm test` does), else says what to run. */
export async function requireTools(tools: Record<string, string>): Promise<void> {
  const missing: string[] = [];
  for (const [binary, pkg] of Object.entries(tools)) {
    const found = await run('sh', ['-c', `command -v ${binary}`]).then(() => true, () => false);
    if (!found) missing.push(pkg);
  }
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing tools: run "apt-get install -y ${missing.join(' ')}" as root`);
  await run('apt-get', ['install', '-y', ...missing], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}
