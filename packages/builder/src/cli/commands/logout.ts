import type { Command } from 'commander';
import { registryHost } from './login.js';

export function logoutCommand(program: Command): void {
  program
    .command('logout')
    .description('remove a registry\'s credentials from containers auth.json')
    .argument('<registry>', 'registry host')
    .action(async (registry: string) => {
      const host = registryHost(registry);
      const { loginAuthFile, removeCredentials } = await import('@tsbuild/registry');
      if (!(await removeCredentials(host))) throw new Error(`not logged in to ${host} (no entry in ${loginAuthFile()})`);
      process.stdout.write(`Removed login credentials for ${host}\n`);
    });
}
