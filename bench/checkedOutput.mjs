// Untimed set-up commands of the bench: their failure must stop the bench, not skew a row.
import { spawnSync } from 'node:child_process';

/** The command's trimmed stdout; throws with its stderr when it fails. */
export function checkedOutput(argv, { cwd } = {}) {
  const result = spawnSync(argv[0], argv.slice(1), { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited with ${result.status}:\n${result.stderr.slice(-4000)}`);
  return result.stdout.trim();
}
