import type { Command } from 'commander';
import { promptHidden } from '../credsOption.js';
import { tlsVerifyOption } from '../registryOptions.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function promptLine(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

/** The registry host from what a user may type: `https://host:5000/`, `docker://host`, `host`. */
export function registryHost(input: string): string {
  const host = input.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  if (!host) throw new Error(`"${input}" names no registry`);
  return host;
}

export function loginCommand(program: Command): void {
  program
    .command('login')
    .description('check credentials against a registry and store them in containers auth.json')
    .argument('<registry>', 'registry host, e.g. registry.example.com:5000')
    .option('-u, --username <user>', 'user name (asked for when missing)')
    .option('-p, --password <password>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .addOption(tlsVerifyOption())
    .action(async (registry: string, opts: { username?: string; password?: string; passwordStdin?: boolean; tlsVerify: string }) => {
      const host = registryHost(registry);
      const username = opts.username ?? (process.stdin.isTTY ? await promptLine('Username: ') : undefined);
      if (!username) throw new Error('give a user name with -u/--username');
      const password = opts.passwordStdin ? await readStdin() : (opts.password ?? (await promptHidden('Password: ', 'no terminal to ask for the password on: use --password-stdin')));
      if (!password) throw new Error('the password is empty');
      const { RegistrySession, saveCredentials } = await import('@tsbuild/registry');
      const session = new RegistrySession(host, { credentials: { username, password }, insecure: opts.tlsVerify === 'false' });
      try {
        await session.checkCredentials();
      } finally {
        await session.close();
      }
      const file = await saveCredentials(host, username, password);
      process.stdout.write(`Login Succeeded! (credentials for ${host} saved in ${file})\n`);
    });
}
