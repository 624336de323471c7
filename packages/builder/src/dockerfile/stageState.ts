/**
 * The state of one build stage while its instructions are applied, with the semantics of
 * BuildKit's dockerfile2llb dispatchers: the image config being built, the variable scope
 * (ENV and ARG values, which is what later instructions expand against and what RUN sees)
 * and the history string each instruction leaves.
 *
 * Pure: filesystem work (COPY/ADD, RUN, creating WORKDIR) is described in the returned
 * Step for the executor.
 */
import path from 'node:path/posix';
import type { ContainerConfig } from '@tsbuild/oci-layout';
import {
  DockerfileError,
  type ArgInstruction,
  type CommandLine,
  type CopyInstruction,
  type Instruction,
  type RunInstruction,
  type SourceLocation,
} from './instructions.js';
import { heredocBody, parseHeredocMarker } from './parseDockerfile.js';
import { expandWord, expandWords, ExpansionError } from './shellWords.js';
import { goDuration, goList, goQuotedList } from './historyFormat.js';
import { parseRunMount, RunMountError, type RunMount } from './runMount.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];

export interface CopyOp {
  isAdd: boolean;
  /** Expanded sources: context-relative paths (may hold globs), URLs, git refs; or paths in `from`. */
  sources: string[];
  /** `COPY <<EOF dest` inline files, expanded unless the delimiter was quoted; mode 0644 unless chmod. */
  heredocs: { name: string; content: string }[];
  /** Absolute (against WORKDIR); a trailing '/' is kept: it means "into this directory". */
  dest: string;
  /** Stage name or index (as written), or an image reference. */
  from?: string;
  /** Unresolved user[:group], to be resolved against the stage's /etc/passwd and /etc/group. */
  chown?: string;
  chmod?: number;
  checksum?: string;
  link: boolean;
  keepGitDir?: boolean;
  /** ADD only: whether to unpack local archives (undefined = BuildKit default: unpack local tars). */
  unpack?: boolean;
  exclude: string[];
  parents: boolean;
  location: SourceLocation;
}

export interface RunOp {
  /** argv: shell form through SHELL, exec form as is. */
  args: string[];
  /** The environment the command sees: ENV plus ARG values in scope, `K=V`. */
  env: string[];
  /** Absolute working directory ("/" when none is set). */
  workdir: string;
  /** User to run as (unresolved user[:group]); undefined = root. */
  user?: string;
  mounts: RunMount[];
  network?: 'none' | 'host' | 'default';
  security?: string;
  /** Files the executor must provide read-only at their path (a heredoc run as a script). */
  inlineFiles: { path: string; content: string; mode: number }[];
  location: SourceLocation;
}

/**
 * What an instruction asks of the executor. Every kind but a history-less config step adds
 * one history entry with `createdBy`; `empty_layer` is true exactly for kind 'config'.
 */
export type Step =
  /** Config only. `createdBy` undefined (ONBUILD): BuildKit adds no history entry. `variables`: what ARG and ENV set. */
  | { kind: 'config'; createdBy?: string; variables?: StepVariables }
  /** WORKDIR other than "/": mkdir -p `path` (0755, owned by `user` when set), a layer. */
  | { kind: 'workdir'; createdBy: string; path: string; user?: string }
  | { kind: 'copy'; createdBy: string; op: CopyOp }
  | { kind: 'run'; createdBy: string; op: RunOp };

/** The variables an ARG or ENV step sets, by name; an ARG without a value maps to undefined. */
export interface StepVariables {
  kind: 'arg' | 'env';
  values: [name: string, value: string | undefined][];
}

export interface StageStateOptions {
  /** The base image's config; undefined for `FROM scratch`. */
  base?: ContainerConfig;
  /** Global (pre-FROM) ARG values incl. the automatic platform args, as planBuild resolved them. */
  globalArgs: Record<string, string>;
  buildArgs: Record<string, string>;
  escape: string;
}

class StepError extends Error {}

/** ARG values that are not put into the environment, as in BuildKit (nonEnvArgs). */
const NON_ENV_ARGS = new Set(['SOURCE_DATE_EPOCH']);

function setVar(list: [string, string][], key: string, value: string): void {
  const i = list.findIndex(([k]) => k === key);
  if (i >= 0) list[i] = [key, value];
  else list.push([key, value]);
}

function splitEnv(entry: string): [string, string] {
  const eq = entry.indexOf('=');
  return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
}

export class StageState {
  readonly config: ContainerConfig;
  author?: string;
  /** The scope instructions expand against and RUN sees: ENV and ARG values, in order set. */
  private readonly scope: [string, string][] = [];
  /** ARGs declared in this stage, for RUN's history string. */
  private readonly declaredArgs: { key: string; value?: string }[] = [];
  private cmdSet = false;
  private readonly opts: StageStateOptions;
  /** The base image's ONBUILD triggers: run them first (parseOnbuildTriggers); they are not inherited. */
  readonly inheritedTriggers: string[];

  constructor(opts: StageStateOptions) {
    this.opts = opts;
    this.config = structuredClone(opts.base ?? {});
    this.inheritedTriggers = this.config.OnBuild ?? [];
    delete this.config.OnBuild;
    const env = this.config.Env ?? [];
    if (!env.some((e) => splitEnv(e)[0] === 'PATH')) env.push(`PATH=${DEFAULT_PATH}`);
    this.config.Env = env;
    for (const e of env) setVar(this.scope, ...splitEnv(e));
  }

  /** The variable scope as `K=V` (what RUN sees). */
  environment(): string[] {
    return this.scope.map(([k, v]) => `${k}=${v}`);
  }

  private lookup = (name: string): string | undefined => this.scope.find(([k]) => k === name)?.[1];

  private expand(word: string): string {
    try {
      return expandWord(word, this.lookup, this.opts.escape);
    } catch (e) {
      if (e instanceof ExpansionError) throw new StepError(e.message);
      throw e;
    }
  }

  private workdir(): string {
    return this.config.WorkingDir || '/';
  }

  apply(instr: Instruction): Step {
    try {
      return this.dispatch(instr);
    } catch (e) {
      if (e instanceof StepError || e instanceof RunMountError) throw new DockerfileError(e.message, instr.location, instr.keyword);
      throw e;
    }
  }

  private dispatch(instr: Instruction): Step {
    switch (instr.keyword) {
      case 'FROM':
        throw new StepError('FROM starts a new stage; it is not applied to a StageState');
      case 'ARG':
        return this.arg(instr);
      case 'ENV': {
        const pairs = instr.pairs.map(({ key, value }) => [this.expand(key), this.expand(value)] as const);
        const env = this.config.Env!;
        for (const [key, value] of pairs) {
          setVar(this.scope, key, value);
          const i = env.findIndex((e) => splitEnv(e)[0] === key);
          if (i >= 0) env[i] = `${key}=${value}`;
          else env.push(`${key}=${value}`);
        }
        return { kind: 'config', createdBy: `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`, variables: { kind: 'env', values: pairs.map(([k, v]) => [k, v]) } };
      }
      case 'LABEL': {
        const labels = (this.config.Labels ??= {});
        const parts: string[] = [];
        for (const p of instr.pairs) {
          const key = this.expand(p.key);
          const value = this.expand(p.value);
          labels[key] = value;
          parts.push(`${key}=${value}`);
        }
        return { kind: 'config', createdBy: `LABEL ${parts.join(' ')}` };
      }
      case 'MAINTAINER':
        this.author = instr.value;
        return { kind: 'config', createdBy: `MAINTAINER ${instr.value}` };
      case 'WORKDIR': {
        const requested = this.expand(instr.value);
        if (requested === '') throw new StepError('cannot normalize nothing');
        const wd = path.isAbsolute(requested) ? path.normalize(requested) : path.join('/', this.workdir(), requested);
        const normalized = wd.length > 1 ? wd.replace(/\/+$/, '') : wd;
        this.config.WorkingDir = normalized;
        const createdBy = `WORKDIR ${normalized}`;
        if (normalized === '/') return { kind: 'config', createdBy };
        const step: Step = { kind: 'workdir', createdBy, path: normalized };
        if (this.config.User) step.user = this.config.User;
        return step;
      }
      case 'USER':
        this.config.User = this.expand(instr.value);
        return { kind: 'config', createdBy: `USER ${this.config.User}` };
      case 'STOPSIGNAL': {
        const signal = this.expand(instr.value);
        if (!isSignal(signal)) throw new StepError(`Invalid signal: ${signal}`);
        this.config.StopSignal = signal;
        return { kind: 'config', createdBy: `STOPSIGNAL ${signal}` };
      }
      case 'VOLUME': {
        const volumes = instr.values.map((v) => this.expand(v));
        if (volumes.some((v) => v === '')) throw new StepError('VOLUME specified can not be an empty string');
        const set = (this.config.Volumes ??= {});
        for (const v of volumes) set[v] = {};
        return { kind: 'config', createdBy: `VOLUME ${goList(volumes)}` };
      }
      case 'EXPOSE': {
        const ports: string[] = [];
        for (const p of instr.values) {
          for (const word of this.expandList(p)) ports.push(...parsePortSpec(word));
        }
        const set = (this.config.ExposedPorts ??= {});
        for (const p of ports) set[p] = {};
        return { kind: 'config', createdBy: `EXPOSE ${goList(ports)}` };
      }
      case 'SHELL':
        this.config.Shell = [...instr.shell];
        return { kind: 'config', createdBy: `SHELL ${goList(instr.shell)}` };
      case 'CMD': {
        const args = this.withShell(instr.command);
        this.config.Cmd = args;
        this.config.ArgsEscaped = true;
        this.cmdSet = true;
        return { kind: 'config', createdBy: `CMD ${goQuotedList(args)}` };
      }
      case 'ENTRYPOINT': {
        const args = this.withShell(instr.command);
        this.config.Entrypoint = args.length > 0 ? args : null;
        // An inherited CMD is meaningless for a new ENTRYPOINT; one set in this stage stays.
        if (!this.cmdSet) this.config.Cmd = null;
        return { kind: 'config', createdBy: `ENTRYPOINT ${goQuotedList(args)}` };
      }
      case 'HEALTHCHECK': {
        const hc: NonNullable<ContainerConfig['Healthcheck']> = { Test: [...instr.test] };
        if (instr.interval) hc.Interval = instr.interval;
        if (instr.timeout) hc.Timeout = instr.timeout;
        if (instr.startPeriod) hc.StartPeriod = instr.startPeriod;
        if (instr.startInterval) hc.StartInterval = instr.startInterval;
        if (instr.retries) hc.Retries = instr.retries;
        this.config.Healthcheck = hc;
        const text =
          `{Test:${goList(instr.test)} Interval:${goDuration(instr.interval)} Timeout:${goDuration(instr.timeout)} ` +
          `StartPeriod:${goDuration(instr.startPeriod)} StartInterval:${goDuration(instr.startInterval)} Retries:${instr.retries}}`;
        return { kind: 'config', createdBy: `HEALTHCHECK ${text}` };
      }
      case 'ONBUILD':
        this.config.OnBuild = [...(this.config.OnBuild ?? []), instr.expression];
        return { kind: 'config' };
      case 'COPY':
      case 'ADD':
        return this.copy(instr);
      case 'RUN':
        return this.run(instr);
    }
  }

  private expandList(word: string): string[] {
    try {
      return expandWords(word, this.lookup, this.opts.escape);
    } catch (e) {
      if (e instanceof ExpansionError) throw new StepError(e.message);
      throw e;
    }
  }

  private arg(instr: ArgInstruction): Step {
    const parts: string[] = [];
    const values: StepVariables['values'] = [];
    for (const a of instr.args) {
      const key = a.key;
      let value: string | undefined;
      if (Object.hasOwn(this.opts.buildArgs, key)) value = this.opts.buildArgs[key];
      else if (a.value !== undefined) value = this.expand(a.value);
      else if (Object.hasOwn(this.opts.globalArgs, key)) value = this.opts.globalArgs[key];
      if (value !== undefined && !NON_ENV_ARGS.has(key)) setVar(this.scope, key, value);
      const declared: { key: string; value?: string } = { key };
      if (value !== undefined) declared.value = value;
      this.declaredArgs.push(declared);
      parts.push(value === undefined ? key : `${key}=${value}`);
      values.push([key, value]);
    }
    return { kind: 'config', createdBy: `ARG ${parts.join(' ')}`, variables: { kind: 'arg', values } };
  }

  private withShell(cmd: CommandLine): string[] {
    if (cmd.form === 'exec') return [...cmd.args];
    const shell = this.config.Shell && this.config.Shell.length > 0 ? this.config.Shell : DEFAULT_SHELL;
    return [...shell, cmd.command];
  }

  private copy(instr: CopyInstruction): Step {
    const isAdd = instr.keyword === 'ADD';
    if (instr.from !== undefined && expandWord(instr.from, () => undefined, this.opts.escape) !== instr.from) {
      throw new StepError(
        'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
      );
    }
    const chown = instr.chown !== undefined ? this.expand(instr.chown) : undefined;
    const chmodText = instr.chmod !== undefined ? this.expand(instr.chmod) : undefined;
    const checksum = instr.checksum !== undefined ? this.expand(instr.checksum) : undefined;
    const sources = instr.sources.map((s) => this.expand(s));
    const destRaw = this.expand(instr.dest);
    const heredocs = instr.heredocs.map((h) => {
      const body = heredocBody(h);
      const content = h.expand ? expandHeredoc(body, this.lookup) : body;
      return { name: h.name, content };
    });

    let chmod: number | undefined;
    if (chmodText !== undefined && chmodText !== '') {
      if (!/^[0-7]+$/.test(chmodText) || parseInt(chmodText, 8) > 0o7777) {
        throw new StepError(`invalid chmod parameter: '${chmodText}'. it should be octal string and between 0 and 07777`);
      }
      chmod = parseInt(chmodText, 8);
    }
    if (checksum) {
      if (sources.length !== 1) throw new StepError("checksum can't be specified for multiple sources");
      if (!/^(https?:\/\/|git@|git:\/\/)/.test(sources[0]!) && !sources[0]!.endsWith('.git')) {
        throw new StepError('checksum requires HTTP(S) or Git sources');
      }
    }

    const op: CopyOp = {
      isAdd,
      sources,
      heredocs,
      dest: this.destination(destRaw),
      link: instr.link,
      exclude: instr.exclude.map((e) => this.expand(e)),
      parents: instr.parents,
      location: instr.location,
    };
    if (instr.from !== undefined) op.from = instr.from;
    if (chown) op.chown = chown;
    if (chmod !== undefined) op.chmod = chmod;
    if (checksum) op.checksum = checksum;
    if (instr.keepGitDir !== undefined) op.keepGitDir = instr.keepGitDir;
    if (instr.unpack !== undefined) op.unpack = instr.unpack;

    let createdBy = instr.keyword;
    if (instr.parents) createdBy += ' --parents';
    if (chown) createdBy += ` --chown=${chown}`;
    if (chmodText) createdBy += ` --chmod=${chmodText}`;
    for (const s of sources) createdBy += ` ${s}`;
    for (const h of heredocs) createdBy += ` <<${h.name}`;
    createdBy += ` ${destRaw} # buildkit`;
    return { kind: 'copy', createdBy, op };
  }

  /** BuildKit's pathRelativeToWorkingDir: absolute, cleaned, a trailing slash kept. */
  private destination(dest: string): string {
    const p = dest === '' || dest === '.' ? './' : dest;
    const joined = path.isAbsolute(p) ? path.normalize(p) : path.join(this.workdir(), p);
    const cleaned = joined.length > 1 ? joined.replace(/\/+$/, '') : joined;
    const keepSlash = (p.endsWith('/') || p.endsWith('/.')) && cleaned !== '/';
    return keepSlash ? `${cleaned}/` : cleaned;
  }

  private run(instr: RunInstruction): Step {
    const env = this.environment();
    const mounts = instr.mounts.map((m) => parseRunMount(m, (v) => this.expand(v)));
    const inlineFiles: RunOp['inlineFiles'] = [];
    let args: string[];
    const cmd = instr.command;
    if (cmd.form === 'shell' && instr.heredocs.length > 0) {
      const only = parseHeredocMarker(cmd.command);
      if (only) {
        const doc = instr.heredocs[0]!;
        const data = heredocBody(doc);
        if (data.startsWith('#!')) {
          // A script with a shebang is run as a file, so its interpreter is honoured.
          const file = path.join('/dev/pipes', doc.name);
          inlineFiles.push({ path: file, content: data, mode: 0o755 });
          args = [file];
        } else {
          args = [data];
        }
      } else {
        let script = cmd.command;
        for (const h of instr.heredocs) script += `\n${h.content}${h.name}`;
        args = [script];
      }
      args = this.withShell({ form: 'shell', command: args[0]! });
    } else {
      args = this.withShell(cmd);
    }

    const op: RunOp = { args, env, workdir: this.workdir(), mounts, inlineFiles, location: instr.location };
    if (this.config.User) op.user = this.config.User;
    if (instr.network !== undefined) op.network = instr.network as RunOp['network'];
    if (instr.security !== undefined) op.security = instr.security;

    // BuildKit's runCommandString: "|N K=V ..." names the ARGs in scope, so the cache key and
    // history change when a build arg changes.
    const argStrings: string[] = [];
    const seen = new Map<string, number>();
    for (const a of this.declaredArgs) {
      const v = this.lookup(a.key) ?? a.value ?? '';
      const entry = `${a.key}=${v}`;
      const at = seen.get(a.key);
      if (at !== undefined) argStrings[at] = entry;
      else {
        seen.set(a.key, argStrings.length);
        argStrings.push(entry);
      }
    }
    const prefix = argStrings.length > 0 ? [`|${argStrings.length}`, ...argStrings] : [];
    const createdBy = `RUN ${[...prefix, ...args].join(' ')} # buildkit`;
    return { kind: 'run', createdBy, op };
  }
}

/** Heredoc bodies expand variables but keep quotes and escapes (BuildKit's ExpandRaw). */
function expandHeredoc(body: string, lookup: (name: string) => string | undefined): string {
  try {
    return expandWord(body, lookup, '\\', { skipProcessQuotes: true });
  } catch (e) {
    if (e instanceof ExpansionError) throw new StepError(e.message);
    throw e;
  }
}

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL',
  'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1',
  'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
]);

/** moby's signal.ParseSignal: a number, or a name with or without SIG, RTMIN+n/RTMAX-n. */
function isSignal(s: string): boolean {
  if (/^\d+$/.test(s)) return Number(s) > 0 && Number(s) <= 64;
  const name = s.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(name) || /^RTMIN\+\d+$/.test(name) || /^RTMAX-\d+$/.test(name);
}

/** One EXPOSE word -> "port/proto" entries (ranges expanded), as BuildKit's portSpecs. */
function parsePortSpec(raw: string): string[] {
  const parts = raw.split(':');
  const container = parts[parts.length - 1]!;
  const slash = container.indexOf('/');
  const portText = slash >= 0 ? container.slice(0, slash) : container;
  const protoText = slash >= 0 ? container.slice(slash + 1) : '';
  if (portText === '') throw new StepError(`invalid port: "${raw}": no port specified`);
  const proto = protoText === '' ? 'tcp' : protoText.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new StepError(`invalid port: "${raw}": invalid proto: ${protoText}`);
  const m = /^(\d+)(?:-(\d+))?$/.exec(portText);
  const start = m ? Number(m[1]) : NaN;
  const end = m?.[2] !== undefined ? Number(m[2]) : start;
  if (!m || start > 65535 || end > 65535 || end < start) throw new StepError(`invalid containerPort: ${portText}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}
