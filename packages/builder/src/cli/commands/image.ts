import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { openStore, withRootOption } from '../storeOption.js';
import { humanSize } from '../humanSize.js';

/** docker's and podman's question before pruning, asked only of a person at a terminal. */
async function confirmed(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return true;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** `tsbuild image SUBCOMMAND`: docker's image management group. */
export function imageCommand(program: Command): void {
  const image = program.command('image').description('manage images (image prune)');
  withRootOption(image.command('prune'))
    .description('remove dangling images (untagged builds) and the blobs only they used; -a: every image')
    .option('-a, --all', 'remove all images, named ones too, not only dangling ones')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (opts: { all?: boolean; force?: boolean }, cmd: Command) => {
      const what = opts.all ? 'all images' : 'all dangling images';
      if (!opts.force && !(await confirmed(`WARNING! This will remove ${what}. Are you sure you want to continue?`))) return;
      const store = await openStore(cmd);
      const removed = await store.removeUnnamed();
      const untagged: string[] = [];
      if (opts.all) {
        for (const { name } of await store.list()) removed.push(await store.untag(name!));
        untagged.push(...removed.flatMap((i) => i.name ?? []));
      }
      const { bytes } = await store.prune();
      const deleted = new Set(removed.map((i) => i.descriptor.digest));
      if (untagged.length + deleted.size > 0) process.stdout.write('Deleted Images:\n');
      for (const name of untagged) process.stdout.write(`untagged: ${name}\n`);
      for (const digest of deleted) process.stdout.write(`deleted: ${digest}\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(bytes)}\n`);
    });
  image.commands[0]!.exitOverride();
}
