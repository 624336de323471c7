import { join, posix, resolve } from 'node:path';
import type { Command } from 'commander';
import { checkCompressionForFormat, parsePlatform, type ImageFormat } from '@tsbuild/oci-layout';
import { parseEpoch } from '../sourceDateEpoch.js';
import { openStore } from '../storeOption.js';
import { runSettings } from '../runSettingsOptions.js';
import { parseBuildContexts } from '../buildContextOption.js';
import { contextFromStdin, readStdinText } from '../stdinContext.js';
import { cacheRequest, type CacheOptions } from '../cacheOptions.js';
import type { BuildRequest } from '../../executor/buildRequest.js';
import { BuildOutputError, checkFileDestination, parseBuildOutputs } from '../buildOutputOption.js';
import { writeBuildOutputs } from '../buildOutputs.js';
import { writeBuildResultFiles } from '../buildResultFiles.js';
import { registryTransportOptions } from '../registryOptions.js';

/** `K=V` pairs; a bare `K` takes its value from the environment, as `docker build --build-arg K` does. */
function keyValues(pairs: string[], what: string, fromEnv: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq === 0) throw new Error(`invalid ${what} "${pair}": expected KEY=VALUE`);
    if (eq < 0) {
      if (!fromEnv) throw new Error(`invalid ${what} "${pair}": expected KEY=VALUE`);
      const value = process.env[pair];
      if (value !== undefined) out[pair] = value;
      continue;
    }
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export interface BuildOptions extends CacheOptions {
  tag: string[];
  file?: string;
  buildArg: string[];
  label: string[];
  compression: 'gzip' | 'zstd' | 'none';
  format: ImageFormat;
  sourceDateEpoch?: string;
  target?: string;
  quiet?: boolean;
  cache: boolean;
  platform?: string;
  registriesConf?: string;
  tlsVerify?: 'true' | 'false';
  secret: string[];
  network: 'host' | 'none';
  progress: 'auto' | 'plain' | 'tty' | 'quiet';
  explainCache?: boolean;
  pull?: boolean;
  addHost: string[];
  ulimit: string[];
  shmSize?: string;
  buildContext: string[];
  push?: boolean;
  output: string[];
  iidfile?: string;
  metadataFile?: string;
  creds?: string;
}

/** `id=ID,src=FILE` (or `id=ID,source=FILE`), as docker build takes --secret. */
function parseSecrets(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const fields = Object.fromEntries(value.split(',').map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]));
    const id = fields.id;
    const src = fields.src ?? fields.source;
    if (!id || !src) throw new Error(`invalid --secret "${value}": expected id=ID,src=FILE`);
    out[id] = resolve(src);
  }
  return out;
}

/** What `tsbuild build` does once its options are parsed. */
export async function buildAction(context: string, opts: BuildOptions, cmd: Command): Promise<void> {
  const store = await openStore(cmd);
  const sourceDateEpoch = parseEpoch(opts.sourceDateEpoch);
  const quiet = opts.quiet || opts.progress === 'quiet';
  const outputs = parseBuildOutputs(opts.output);
  checkCompressionForFormat(opts.format, opts.compression);
  if (opts.push && opts.tag.length === 0) throw new BuildOutputError('--push needs a name to push to: tag the image with -t REGISTRY/REPOSITORY[:TAG]');
  if (opts.iidfile) checkFileDestination('--iidfile', opts.iidfile);
  if (opts.metadataFile) checkFileDestination('--metadata-file', opts.metadataFile);
  const toStdout = outputs.some((o) => o.dest === '-');
  if (toStdout && opts.explainCache) throw new BuildOutputError('--explain-cache and --output dest=- would both write to stdout: send the output to a file');
  // An output on stdout (-o -) leaves stdout to the tar, and --explain-cache to its JSON: progress and the digest go to stderr, as buildx sends them.
  const report = toStdout || opts.explainCache ? process.stderr : process.stdout;
  if (report === process.stderr && process.stdout.isTTY) throw new BuildOutputError('--output dest=- writes an archive to stdout, which is a terminal: redirect it to a file or a pipe');
  const log = quiet ? () => undefined : (line: string) => report.write(`${line}\n`);
  if (context === '-' && opts.file === '-') throw new Error('the context and the Dockerfile cannot both come from stdin (- and -f -)');
  // Every option is parsed before stdin is read, so a bad one leaves nothing behind.
  const settings = runSettings(opts);
  // Read now, so a password is asked for before the build rather than after it.
  const registry = await registryTransportOptions(opts);
  const caches = await cacheRequest(opts, registry.credentials);
  const request: Omit<BuildRequest, 'contextDir'> = {
    ...(opts.file && opts.file !== '-' ? { dockerfile: opts.file } : {}),
    ...(opts.pull ? { pull: true } : {}),
    ...(opts.buildContext.length > 0 ? { buildContexts: parseBuildContexts(opts.buildContext) } : {}),
    ...(settings ? { runSettings: settings } : {}),
    tags: opts.tag,
    buildArgs: keyValues(opts.buildArg, 'build argument', true),
    labels: keyValues(opts.label, 'label', false),
    compression: opts.compression,
    format: opts.format,
    ...(sourceDateEpoch !== undefined ? { sourceDateEpoch } : {}),
    ...(opts.target ? { target: opts.target } : {}),
    secrets: parseSecrets(opts.secret),
    noCache: !opts.cache,
    ...(opts.explainCache || (!quiet && opts.progress === 'plain') ? { explainCache: true } : {}),
    ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
    ...(opts.registriesConf ? { registriesConf: opts.registriesConf } : {}),
    tlsVerify: opts.tlsVerify !== 'false',
    network: opts.network,
    log,
    ...caches,
  };
  const stdinContext = context === '-' ? await contextFromStdin(process.stdin, store.tmpDir) : undefined;
  // Ctrl-C stops the running step; the build then cleans up its mounts, containers and temp dirs.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result;
  try {
    const dockerfileText = opts.file === '-' ? await readStdinText(process.stdin) : stdinContext?.dockerfileText;
    const { buildImage } = await import('../../executor/buildImage.js');
    result = await buildImage(store, {
      ...request,
      contextDir: stdinContext?.dir ?? context,
      // With the context on stdin, -f names a file inside it.
      ...(stdinContext && request.dockerfile ? { dockerfile: join(stdinContext.dir, posix.normalize(`/${request.dockerfile}`)) } : {}),
      ...(dockerfileText !== undefined ? { dockerfileText } : {}),
      signal: interrupt.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stdinContext?.cleanup();
  }
  for (const warning of result.warnings) process.stderr.write(`WARNING: ${warning}\n`);
  await writeBuildOutputs(store, result.descriptor, result.names, { push: opts.push === true, outputs, registry, quiet }, report);
  await writeBuildResultFiles(store, result.descriptor, result.names, { ...(opts.iidfile ? { iidfile: opts.iidfile } : {}), ...(opts.metadataFile ? { metadataFile: opts.metadataFile } : {}) });
  for (const name of result.names) log(`Successfully tagged ${name}`);
  if (opts.explainCache) process.stdout.write(`${JSON.stringify({ digest: result.digest, names: result.names, steps: result.cache ?? [] }, null, 2)}\n`);
  else report.write(`${result.digest}\n`);
}
