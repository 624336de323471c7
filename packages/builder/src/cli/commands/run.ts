import type { Command } from 'commander';
import { withRegistryOptions } from '../registryOptions.js';
import { withRootOption } from '../storeOption.js';
import type { RunFlags } from './runAction.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function runCommand(program: Command): void {
  withRegistryOptions(withRootOption(program.command('run')), 'pulling')
    .description('create and start a container from an image, supervised by conmon (docker run)')
    .passThroughOptions()
    .argument('<image>', 'name or ID of an image in the store, or docker://REF')
    .argument('[command...]', 'command and arguments (default: the image\'s Entrypoint + Cmd)')
    .option('-d, --detach', 'run in the background and print the container ID')
    .option('-i, --interactive', 'keep stdin open and pass ours on (a pipe: no terminal, no signal translation)')
    .option('-t, --tty', 'give the container a terminal (with -i: raw mode here, ctrl-c reaches it, detach keys leave it running)')
    .option('--detach-keys <keys>', 'key sequence that detaches from a terminal', 'ctrl-p,ctrl-q')
    .option('--rm', 'remove the container when it exits')
    .option('--name <name>', 'container name')
    .option('-e, --env <NAME[=value]>', 'set an environment variable (repeatable)', collect, [])
    .option('--env-file <file>', 'read NAME=value lines from a file (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user (name or UID) to run as')
    .option('--entrypoint <cmd>', 'replace the image\'s entrypoint (its Cmd is dropped)')
    .option('--hostname <name>', 'container host name (default: the short ID)')
    .option('--read-only', 'mount the root filesystem read-only')
    .option('--network <mode>', 'bridge (own address on the tsbuild0 bridge, NAT out), none (loopback only) or host', 'bridge')
    .option('-p, --publish <[IP:]HOST:CTR[/tcp|udp]>', 'publish a container port on the host (bridge only; empty HOST: a free port) (repeatable)', collect, [])
    .option('-m, --memory <size>', 'memory limit, e.g. 64m')
    .option('--cpus <n>', 'CPU limit, e.g. 0.5')
    .option('--ulimit <name=soft[:hard]>', 'a resource limit, e.g. nofile=1024:2048 (repeatable)', collect, [])
    .option('--pids-limit <n>', 'maximum number of processes')
    .option('--cap-add <cap>', 'add a capability, or ALL (repeatable)', collect, [])
    .option('--cap-drop <cap>', 'drop a capability, or ALL (repeatable)', collect, [])
    .option('--security-opt <opt>', 'seccomp=FILE|unconfined, no-new-privileges (repeatable)', collect, [])
    .option('--privileged', 'all capabilities, no seccomp, no masked paths')
    .option('-v, --volume <HOST|NAME:CTR[:ro]>', 'bind-mount a host path, or mount a named volume (created on first use); CTR alone: an anonymous volume (repeatable)', collect, [])
    .option('--mount <type=bind|volume|tmpfs,...>', 'mount a host path, a volume or a tmpfs: source=, target=, readonly (repeatable)', collect, [])
    .option('--tmpfs <CTR[:opts]>', 'mount a tmpfs (repeatable)', collect, [])
    .option('--init', 'run catatonit as PID 1: it reaps zombies and passes signals on')
    .option('--restart <policy>', 'no, on-failure[:N], always or unless-stopped', 'no')
    .option('--stop-signal <signal>', 'signal `stop` sends first (default: the image\'s STOPSIGNAL, else SIGTERM)')
    .option('--stop-timeout <seconds>', 'how long `stop` waits before SIGKILL', '10')
    .option('--runtime <name>', 'OCI runtime: runc or crun', 'runc')
    .option('-l, --label <key=value>', 'set a label (repeatable)', collect, [])
    .option('--pull <policy>', 'missing (pull when not in the store), always or never', 'missing')
    .option('--cidfile <file>', 'write the container ID to this file (which must not exist)')
    .option('--log-opt <max-size=SIZE>', 'log options: max-size rotates the log at that size (repeatable)', collect, [])
    // The container machinery loads when a container is to run: `run --help` and a usage error need none of it (#14).
    .action(async (imageRef: string, command: string[], flags: RunFlags, cmd: Command) => (await import('./runAction.js')).runAction(imageRef, command, flags, cmd));
}
