import { Option, type Command } from 'commander';
import { compressionOption } from '../compressionOption.js';
import { withRootOption } from '../storeOption.js';
import { withCacheOptions } from '../cacheOptions.js';
import { withRegistryOptions } from '../registryOptions.js';
import type { BuildOptions } from './buildAction.js';

const collect = (value: string, previous: string[]) => [...previous, value];

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
    // The build machinery loads when there is something to build: `build --help` and a usage error need none of it (#14).
    .action(async (context: string, opts: BuildOptions, cmd: Command) => (await import('./buildAction.js')).buildAction(context, opts, cmd));
}
