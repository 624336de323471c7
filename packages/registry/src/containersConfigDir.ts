import { homedir } from 'node:os';
import { join } from 'node:path';

/** ${XDG_CONFIG_HOME:-~/.config}/containers: the user's own auth.json and registries.conf, for credentials and registries.conf alike. */
export function userContainersDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'containers');
}
