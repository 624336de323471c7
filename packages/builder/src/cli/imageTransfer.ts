/**
 * What every command that moves images shares (copy, push, pull, manifest push,
 * build --push and --output): their options, the transports, and the one
 * reported copy loop.
 */
import type { Command } from 'commander';
import { formatImageLocation, normalizeImageName, parsePlatform, storeRoot, type BlobCopyOutcome, type CopyOptions, type Descriptor, type ImageLocation } from '@tsbuild/oci-layout';
import type { ImageTransports } from '@tsbuild/registry';
import { parseCreds } from './credsOption.js';
import { humanSize } from './humanSize.js';
import { registryTransportOptions, withRegistryOptions, type RegistryOptions } from './registryOptions.js';
import { openStoreAt, withRootOption } from './storeOption.js';

/** The registry client (and undici) load only when a command needs them, so other commands start fast. */
const registry = () => import('@tsbuild/registry');

/** push and pull take `--creds`; copy takes `--src-creds` and `--dest-creds`. */
export interface TransferOptions extends RegistryOptions {
  jobs: string;
  platform?: string;
  all?: boolean;
  quiet?: boolean;
  srcCreds?: string;
  destCreds?: string;
}

/** The options every command that moves images shares (skopeo's spelling where skopeo has one). */
export function withTransferOptions(cmd: Command): Command {
  const transferOptions = withRootOption(cmd)
    .option('-j, --jobs <n>', 'blobs transferred at once', '4')
    .option('--platform <os/arch[/variant]>', 'which image of a multi-platform index (default: this machine\'s)')
    .option('--all', 'copy every image of a multi-platform index, and the index itself');
  return withRegistryOptions(transferOptions).option('-q, --quiet', 'print only the digest of what was written');
}

export async function openTransports(cmd: Command, opts: TransferOptions): Promise<ImageTransports> {
  const { root } = cmd.optsWithGlobals<{ root?: string }>();
  const { ImageTransports } = await registry();
  return ImageTransports.create({
    openStore: () => openStoreAt(storeRoot(root)),
    ...(await registryTransportOptions(opts)),
    ...(opts.srcCreds !== undefined ? { sourceCredentials: await parseCreds(opts.srcCreds, '--src-creds') } : {}),
    ...(opts.destCreds !== undefined ? { destinationCredentials: await parseCreds(opts.destCreds, '--dest-creds') } : {}),
    ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
    ...(opts.all ? { all: true } : {}),
  });
}

/** Where a copy reports: stdout for the transfer commands, the build's log stream for `build --push` and `--output`. */
export type ReportStream = NodeJS.WritableStream & { isTTY?: boolean };

/** Per-blob progress bars, redrawn in place; only used when the report goes to a terminal. */
class ProgressBars {
  private readonly rows = new Map<string, { label: string; done: number; total: number; state?: string }>();
  private drawn = 0;
  private lastDraw = 0;

  constructor(private readonly out: ReportStream) {}

  progress(d: Descriptor, bytes: number): void {
    this.row(d).done = bytes;
    if (Date.now() - this.lastDraw >= 100) this.draw();
  }

  finish(d: Descriptor, outcome: BlobCopyOutcome, kind: 'config' | 'layer'): void {
    const row = this.row(d, kind);
    row.label = `Copying ${kind === 'layer' ? 'blob' : 'config'} ${d.digest.slice(7, 19)}`;
    row.state = outcome === 'exists' ? 'already exists' : 'done';
    row.done = row.total;
    this.draw();
  }

  private row(d: Descriptor, kind: 'config' | 'layer' = 'layer') {
    let row = this.rows.get(d.digest);
    if (!row) {
      row = { label: `Copying ${kind === 'layer' ? 'blob' : 'config'} ${d.digest.slice(7, 19)}`, done: 0, total: d.size };
      this.rows.set(d.digest, row);
    }
    return row;
  }

  private draw(): void {
    this.lastDraw = Date.now();
    let out = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const row of this.rows.values()) {
      const width = 30;
      const filled = row.total > 0 ? Math.min(width, Math.floor((row.done / row.total) * width)) : width;
      const bar = `[${'='.repeat(filled)}${' '.repeat(width - filled)}]`;
      out += `\x1b[2K${row.label} ${bar} ${humanSize(row.done)} / ${humanSize(row.total)}${row.state ? ` ${row.state}` : ''}\n`;
    }
    this.drawn = this.rows.size;
    this.out.write(out);
  }
}

/** `--jobs` as a number; checked before anything is copied. */
export function parseJobs(value: string): number {
  const jobs = Number(value);
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs must be a positive integer, not "${value}"`);
  return jobs;
}

function copyOptions(opts: { jobs: string; quiet?: boolean }, out: ReportStream): CopyOptions {
  const jobs = parseJobs(opts.jobs);
  if (opts.quiet) return { jobs };
  if (out.isTTY) {
    const bars = new ProgressBars(out);
    return { jobs, onProgress: (d, bytes) => bars.progress(d, bytes), onBlob: (d, outcome, kind) => bars.finish(d, outcome, kind) };
  }
  const onBlob = (d: Descriptor, outcome: BlobCopyOutcome, kind: 'config' | 'layer') => {
    out.write(`${kind === 'layer' ? 'Copying blob' : 'Copying config'} ${d.digest} ${outcome === 'exists' ? 'skipped: already exists' : 'done'}\n`);
  };
  return { jobs, onBlob };
}

/**
 * The one copy loop of every command that moves images: copies `src` to `dst` through
 * `transports` and reports on `out` where it copies and each finished blob (unless quiet).
 * `names` name the image in a destination that records names (see ImageTransports.openDestination).
 */
export async function copyReported(
  transports: ImageTransports,
  src: ImageLocation,
  dst: ImageLocation | ((sourceName: string | undefined) => ImageLocation),
  opts: { jobs: string; quiet?: boolean; names?: string[] },
  out: ReportStream,
): Promise<{ descriptor: Descriptor; target: ImageLocation }> {
  const result = await transports.copy(src, dst, {
    ...copyOptions(opts, out),
    ...(opts.names ? { names: opts.names } : {}),
    onStart: (to) => {
      if (!opts.quiet) out.write(`Copying ${formatImageLocation(src)} to ${formatImageLocation(to)}\n`);
    },
  });
  if (!opts.quiet && result.target.transport === 'store') out.write(`Stored as ${normalizeImageName(result.target.name)}\n`);
  return result;
}

/** Copies and reports: a line per finished blob (unless -q), then the digest written. */
export async function transfer(cmd: Command, opts: TransferOptions, src: ImageLocation, dst: ImageLocation | ((sourceName: string | undefined) => ImageLocation)): Promise<Descriptor> {
  const transports = await openTransports(cmd, opts);
  try {
    const { descriptor } = await copyReported(transports, src, dst, opts, process.stdout);
    process.stdout.write(`${descriptor.digest}\n`);
    return descriptor;
  } finally {
    await transports.close();
  }
}
