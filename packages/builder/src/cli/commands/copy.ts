import { Option, type Command } from 'commander';
import { normalizeImageName, parsePlatformOption, LocalStore, storeRoot, type BlobCopyOutcome, type CopyOptions, type Descriptor } from '@tsbuild/oci-layout';
import { formatImageLocation, ImageTransports, parseImageLocation, type ImageLocation } from '@tsbuild/registry';
import { withRootOption } from '../storeOption.js';

export interface TransferOptions {
  jobs: string;
  platform?: string;
  all?: boolean;
  tlsVerify: string;
  registriesConf?: string;
  quiet?: boolean;
}

/** The options every command that moves images shares (skopeo's spelling where skopeo has one). */
export function withTransferOptions(cmd: Command): Command {
  return withRootOption(cmd)
    .option('-j, --jobs <n>', 'blobs transferred at once', '4')
    .option('--platform <os/arch[/variant]>', 'which image of a multi-platform index (default: this machine\'s)')
    .option('--all', 'copy every image of a multi-platform index, and the index itself')
    .addOption(new Option('--tls-verify <bool>', 'require HTTPS with verified certificates (false also allows plain HTTP)').choices(['true', 'false']).default('true'))
    .option('--registries-conf <file>', 'registries.conf to use instead of the standard ones')
    .option('-q, --quiet', 'print only the digest of what was written');
}

export async function openTransports(cmd: Command, opts: TransferOptions): Promise<ImageTransports> {
  const { root } = cmd.optsWithGlobals<{ root?: string }>();
  return ImageTransports.create({
    openStore: () => LocalStore.open(storeRoot(root)),
    ...(opts.registriesConf ? { registriesConf: opts.registriesConf } : {}),
    tlsVerify: opts.tlsVerify !== 'false',
    ...(opts.platform ? { platform: parsePlatformOption(opts.platform) } : {}),
    ...(opts.all ? { all: true } : {}),
  });
}

function copyOptions(opts: TransferOptions): CopyOptions {
  const jobs = Number(opts.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs must be a positive integer, not "${opts.jobs}"`);
  const onBlob = (d: Descriptor, outcome: BlobCopyOutcome, kind: 'config' | 'layer') => {
    if (!opts.quiet) process.stdout.write(`${kind === 'layer' ? 'Copying blob' : 'Copying config'} ${d.digest} ${outcome === 'exists' ? 'skipped: already exists' : 'done'}\n`);
  };
  return { jobs, onBlob };
}

/** Copies and reports: a line per finished blob (unless -q), then the digest written. */
export async function transfer(cmd: Command, opts: TransferOptions, src: ImageLocation, dst: ImageLocation | ((sourceName: string | undefined) => ImageLocation)): Promise<Descriptor> {
  const transports = await openTransports(cmd, opts);
  try {
    const { descriptor, target } = await transports.copy(src, dst, {
      ...copyOptions(opts),
      onStart: (to) => {
        if (!opts.quiet) process.stdout.write(`Copying ${formatImageLocation(src)} to ${formatImageLocation(to)}\n`);
      },
    });
    if (!opts.quiet && target.transport === 'store') process.stdout.write(`Stored as ${normalizeImageName(target.name)}\n`);
    process.stdout.write(`${descriptor.digest}\n`);
    return descriptor;
  } finally {
    await transports.close();
  }
}

export function copyCommand(program: Command): void {
  withTransferOptions(program.command('copy'))
    .description('copy an image between registries (docker://), OCI layouts (oci:DIR[:REF]), archives (oci-archive:, docker-archive:) and the store (plain names)')
    .argument('<source>', 'where the image is')
    .argument('<destination>', 'where to write it')
    .action(async (src: string, dst: string, opts: TransferOptions, cmd: Command) => {
      await transfer(cmd, opts, parseImageLocation(src), parseImageLocation(dst));
    });
}
