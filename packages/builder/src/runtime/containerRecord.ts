import type { Descriptor, Digest } from '@tsbuild/oci-layout';
import type { PortMapping } from './network/portMapping.js';
import type { NetworkMode, RestartPolicy } from './runOptions.js';

/** What a container was created as; written once, at create. */
export interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  image: { ref: string; name?: string; descriptor: Descriptor; diffIds: Digest[] };
  /** OCI runtime binary: runc or crun. */
  runtime: string;
  autoRemove: boolean;
  /** `-i`: conmon keeps a stdin pipe that attach clients write to. */
  openStdin: boolean;
  /** The first attach's end of input closes the container's stdin (foreground `run -i`); otherwise it stays open for the next attach. */
  stdinOnce: boolean;
  /** `-t`: conmon holds a PTY master; output is one stream. */
  tty: boolean;
  /** `--log-opt max-size`: conmon's --log-size-max. */
  logSizeMax?: number;
  restart: RestartPolicy;
  stopSignal: string;
  /** Seconds `stop` waits before SIGKILL. */
  stopTimeout: number;
  network: NetworkMode;
  /** `-p` as given (host port 0: a free one, chosen at each start). */
  ports: PortMapping[];
  /** docker inspect's `Config`, as the command line and image made it. */
  config: {
    Hostname: string;
    User: string;
    Env: string[];
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    Image: string;
    WorkingDir: string;
    Labels: Record<string, string>;
    StopSignal: string;
  };
  /** `Name`: the volume's, for Type volume. */
  mounts: { Type: 'bind' | 'tmpfs' | 'volume'; Name?: string; Source: string; Destination: string; RW: boolean }[];
}

export type ContainerStatus = 'created' | 'running' | 'exited';

/** What happened to it since; replaced atomically on every change. */
export interface ContainerState {
  status: ContainerStatus;
  pid: number;
  conmonPid: number;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  oomKilled: boolean;
  restartCount: number;
  /** Set by stop/kill/rm: no restart policy brings it back. */
  stoppedByUser: boolean;
  /** Set by `restart` while it stops the container: `--rm` does not remove it then (docker's HasBeenManuallyRestarted). Absent in older state files. */
  restarting?: boolean;
  error: string;
}

export const NEVER = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return { status: 'created', pid: 0, conmonPid: 0, startedAt: NEVER, finishedAt: NEVER, exitCode: 0, oomKilled: false, restartCount: 0, stoppedByUser: false, error: '' };
}
