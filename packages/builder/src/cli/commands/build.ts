import { join, posix, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { checkCompressionForFormat, parsePlatform, type ImageFormat } from '@tsbuild/oci-layout';
import { compressionOption } from '../compressionOption.js';
import { parseEpoch } from '../sourceDateEpoch.js';
import { openStore, withRootOption } from '../storeOption.js';
import { runSettings } from '../runSettingsOptions.js';
import { parseBuildContexts } from '../buildContextOption.js';
import { contextFromStdin, readStdinText } from '../stdinContext.js';
import { cacheRequest, withCacheOptions, type CacheOptions } from '../cacheOptions.js';
import type { BuildRequest } from '../../executor/buildRequest.js';
import { BuildOutputError, checkFileDestination, parseBuildOutputs } from '../buildOutputOption.js';
import { writeBuildOutputs } from '../buildOutputs.js';
import { writeBuildResultFiles } from '../buildResultFiles.js';
import { registryTransportOptions, withRegistryOptions } from '../registryOptions.js';

const collect = (value: string, previous: string[]) => [...previous, value];

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

interface BuildOptions extends CacheOptions {
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

export function buildCommand(program: Command): void {
  const command = withRootOption(program.command('build', { isDefault: true }))
    .description('build an image from a Dockerfile (the default command: `tsbuild -t NAME .`)')
    .argument('[context]', 'build context directory, or - for a tar stream (or a Dockerfile) on stdin', '.')
    .option('-t, --tag <name>', 'name the image (repeatable); short names become localhost/NAME:latest', collect, [])
    .option('-f, --file <path>', 'Dockerfile (default: CONTEXT/Dockerfile); - reads it from stdin')
    .option('--build-arg <key=value>', 'set a build-time variable (repeatable)', collect, [])
    .option('--label <key=value>', 'add a label to the image (repeatable)', collect, [])
    .addOption(compressionOption())
    .addOption(new Option('--format <format>', 'manifest format the image is pushed and saved in: oci, or docker (Docker schema2, which keeps no zstd layers); the store keeps it as OCI either way').choices(['oci', 'docker']).default('oci'))
    .addOption(new Option('--source-date-epoch <seconds>', 'fixed timestamps for reproducible builds').env('SOURCE_DATE_EPOCH'))
    .option('--target <stage>', 'build up to this stage')
    .option('--secret <id=ID,src=FILE>', 'expose a file to RUN --mount=type=secret (repeatable); it never lands in the image', collect, [])
    .addOption(new Option('--network <mode>', 'default network for RUN steps').choices(['host', 'none']).default('host'))
    .option('-q, --quiet', 'print only the image digest')
    .addOption(new Option('--progress <mode>', 'output: plain (steps, why each missed the cache, RUN output, line by line), quiet (= -q); auto and tty are plain without the cache-miss reasons').choices(['auto', 'plain', 'tty', 'quiet']).default('auto'))
    .option('--pull', 'look base images up in their registry even when the store has them')
    .option('--add-host <host:ip>', 'add a line to /etc/hosts of RUN steps (repeatable)', collect, [])
    .option('--ulimit <name=soft[:hard]>', 'resource limit for RUN steps, e.g. nofile=1024:2048 (repeatable)', collect, [])
    .option('--shm-size <size>', 'size of /dev/shm in RUN steps, e.g. 128m (default 64m)')
    .option('--build-context <name=dir|docker-image://ref>', 'a named context for COPY --from=NAME / RUN --mount from=NAME, or an image for FROM NAME (repeatable)', collect, [])
    .option('--platform <os/arch[/variant]>', 'target platform (default: this machine\'s; RUN needs this machine\'s)')
    .option('--no-cache', 'execute every step even when the build cache has its result')
    .option('--push', 'push the image to the registry each -t names, as `tsbuild push` does')
    .option('--creds <USERNAME[:PASSWORD]>', 'credentials for --push and the registries of --cache-from/--cache-to, instead of stored ones (asks for the password when missing)')
    .option('-o, --output <type=TYPE,dest=PATH>', 'also write the result: type=oci (dest=FILE, or a directory with tar=false), type=docker (a docker load archive), type=local (the filesystem, dest=DIR; -o DIR alone means this), type=tar (the filesystem as a tar); dest=- writes an archive to stdout (repeatable)', collect, [])
    .option('--iidfile <file>', 'write the image ID (its manifest digest, as -q prints it) to FILE')
    .option('--metadata-file <file>', 'write buildx\'s build metadata (containerimage.digest, image.name, ...) as JSON to FILE')
    .option('--explain-cache', 'print one JSON document on stdout: the image digest and, per step, whether it was cached and why not (progress goes to stderr)');
  withCacheOptions(withRegistryOptions(command, 'pulling base images, --push and registry caches'))
    .action(async (context: string, opts: BuildOptions, cmd: Command) => {
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
      const caches = cacheRequest(opts, registry.credentials);
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
    });
}
