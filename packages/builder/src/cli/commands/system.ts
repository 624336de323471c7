import type { Command } from 'commander';
import { checkStore, ToolError, type LocalStore, type StoreProblem } from '@tsbuild/oci-layout';
import { openStore, withRootOption } from '../storeOption.js';

/** podman's exit code for a command that failed (it returns "damage detected in local storage" as an error). */
const DAMAGE_EXIT_CODE = 125;

export class StoreDamageError extends ToolError<'store-damage'> {
  constructor(message: string) {
    super('store-damage', message, DAMAGE_EXIT_CODE);
  }
}

interface FullReport {
  problems: StoreProblem[];
  repaired: string[];
  unsaved: string[];
}

/** The store's own check, snapshots, and what killed builds left held. */
async function checkAll(store: LocalStore, repair: boolean): Promise<FullReport> {
  const [{ checkSnapshots }, { deadRuns, reapDeadRuns }] = await Promise.all([import('../../executor/snapshotCheck.js'), import('../../runtime/runRecord.js')]);
  // Mounts are let go of first: a repair removes the temp directories they are in.
  const runs = await deadRuns(store);
  const runProblems: StoreProblem[] = runs.map(({ file, record }) => ({
    kind: 'leftover',
    message: `${file}: process ${record.owner.pid} is gone and left ${[...(record.containerId ? [`runc container ${record.containerId}`] : []), ...record.mounts.map((m) => `mount ${m}`)].join(', ') || 'a record'}`,
  }));
  const reaped = repair ? await reapDeadRuns(store) : [];
  const report = await checkStore(store, { repair });
  const busy = (await store.leases()).some((l) => l.alive);
  const snapshots = await checkSnapshots(store, { repair, busy });
  return {
    problems: [...runProblems, ...report.problems, ...snapshots.problems],
    repaired: [...reaped, ...report.repaired, ...snapshots.repaired],
    unsaved: report.unsaved,
  };
}

export function systemCommand(program: Command): void {
  const system = program.command('system').description('manage the store as a whole');
  withRootOption(system.command('check'))
    .description('check every blob, image, snapshot and lease in the store; --repair removes what is damaged or left over')
    .option('-r, --repair', 'remove damaged blobs and snapshots and leftovers of killed processes; rebuild an unreadable index.json')
    .action(async (opts: { repair?: boolean }, cmd: Command) => {
      const store = await openStore(cmd, { reap: false });
      const repair = opts.repair === true;
      const first = await checkAll(store, repair);
      for (const p of first.problems) process.stdout.write(`${p.message}\n`);
      if (!repair) {
        if (first.problems.length > 0) throw new StoreDamageError(`damage detected in the store ${store.root} (${first.problems.length} problem${first.problems.length === 1 ? '' : 's'}; \`tsbuild system check --repair\` removes what is damaged)`);
        return;
      }
      for (const line of first.repaired) process.stdout.write(`repaired: ${line}\n`);
      for (const line of first.unsaved) process.stdout.write(`not saved: ${line}\n`);
      const again = await checkAll(store, false);
      if (again.problems.length > 0) {
        throw new StoreDamageError(`damage in the store ${store.root} is still present after repair (${again.problems.length} problem${again.problems.length === 1 ? '' : 's'}: ${again.problems[0]!.message})`);
      }
    });
}
