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
  type CmdInstruction,
  type CommandLine,
  type CopyInstruction,
  type Instruction,
  type KeyValueInstruction,
  type RunInstruction,
  type SourceLocation,
} from './instructions.js';
import { InstructionError } from './instructionError.js';
import { createIgnoreMatcher, IgnorePatternError } from './dockerignore.js';
import { splitParentsSource } from './parentsSource.js';
import { heredocBody, parseHeredocMarker } from './parseDockerfile.js';
import { expandWord, expandWords, ExpansionError } from './shellWords.js';
import { goQuotedList } from './historyFormat.js';
import { parseRunMount, RunMountError, type RunMount } from './runMount.js';
import { portSpecs, setExposedPorts, setHealthcheck, setLabels, setShell, setStopSignal, setUser, setVolumes } from './configInstructions.js';

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
  /** What the build's expansions may still make, shared by its stages (a new budget when not given). */
  expansions?: ExpansionBudget;
}

/** Characters all expansions of one build may make together. */
const BUILD_EXPANSION_BUDGET = 16 * 1024 * 1024;

/**
 * What a build's variable expansions may make in all: each is bounded
 * (MAX_EXPANSION), and so are many lines that each expand a large variable
 * (`LABEL a1=$A`, `LABEL a2=$A`, ...), which would otherwise hold a copy of
 * it per line.
 */
export class ExpansionBudget {
  private left = BUILD_EXPANSION_BUDGET;

  /** Counts `made`; fails once the build's expansions have made more than the budget. */
  spend<T extends string | string[]>(made: T): T {
    this.left -= typeof made === 'string' ? made.length : made.reduce((sum, word) => sum + word.length, 0);
    if (this.left < 0) throw new InstructionError(`the build's variable expansions make more than ${BUILD_EXPANSION_BUDGET} characters in all`);
    return made;
  }
}

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
  private readonly expansions: ExpansionBudget;
  /** The base image's ONBUILD triggers: run them first (parseOnbuildTriggers); they are not inherited. */
  readonly inheritedTriggers: string[];

  constructor(opts: StageStateOptions) {
    this.opts = opts;
    this.expansions = opts.expansions ?? new ExpansionBudget();
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
    return this.expansions.spend(expansionFailureAsInstructionError(() => expandWord(word, this.lookup, this.opts.escape)));
  }

  private expandList(word: string): string[] {
    return this.expansions.spend(expansionFailureAsInstructionError(() => expandWords(word, this.lookup, this.opts.escape)));
  }

  private workdir(): string {
    return this.config.WorkingDir || '/';
  }

  apply(instr: Instruction): Step {
    try {
      return this.dispatch(instr);
    } catch (e) {
      if (e instanceof InstructionError || e instanceof RunMountError) throw new DockerfileError(e.message, instr.location, instr.keyword);
      throw e;
    }
  }

  private dispatch(instr: Instruction): Step {
    switch (instr.keyword) {
      case 'FROM':
        throw new InstructionError('FROM starts a new stage; it is not applied to a StageState');
      case 'ARG':
        return this.arg(instr);
      case 'ENV':
        return this.env(instr);
      case 'LABEL':
        return configStep(setLabels(this.config, instr.pairs.map(({ key, value }) => [this.expand(key), this.expand(value)] as const)));
      case 'MAINTAINER':
        this.author = instr.value;
        return configStep(`MAINTAINER ${instr.value}`);
      case 'USER':
        return configStep(setUser(this.config, this.expand(instr.value)));
      case 'STOPSIGNAL':
        return configStep(setStopSignal(this.config, this.expand(instr.value)));
      case 'VOLUME':
        return configStep(setVolumes(this.config, instr.values.map((v) => this.expand(v))));
      case 'EXPOSE':
        return configStep(setExposedPorts(this.config, instr.values.flatMap((v) => portSpecs(this.expandList(v)))));
      case 'SHELL':
        return configStep(setShell(this.config, instr.shell));
      case 'CMD':
      case 'ENTRYPOINT':
        return this.command(instr);
      case 'HEALTHCHECK':
        return configStep(setHealthcheck(this.config, instr));
      case 'ONBUILD':
        this.config.OnBuild = [...(this.config.OnBuild ?? []), instr.expression];
        return { kind: 'config' };
      case 'WORKDIR':
        return this.setWorkdir(instr.value);
      case 'COPY':
      case 'ADD':
        return this.copy(instr);
      case 'RUN':
        return this.run(instr);
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

  private env(instr: KeyValueInstruction): Step {
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

  private command(instr: CmdInstruction): Step {
    const args = this.withShell(instr.command);
    if (instr.keyword === 'CMD') {
      this.config.Cmd = args;
      this.config.ArgsEscaped = true;
      this.cmdSet = true;
    } else {
      this.config.Entrypoint = args.length > 0 ? args : null;
      // An inherited CMD is meaningless for a new ENTRYPOINT; one set in this stage stays.
      if (!this.cmdSet) this.config.Cmd = null;
    }
    return configStep(`${instr.keyword} ${goQuotedList(args)}`);
  }

  private withShell(cmd: CommandLine): string[] {
    if (cmd.form === 'exec') return [...cmd.args];
    const shell = this.config.Shell && this.config.Shell.length > 0 ? this.config.Shell : DEFAULT_SHELL;
    return [...shell, cmd.command];
  }

  private setWorkdir(value: string): Step {
    const requested = this.expand(value);
    if (requested === '') throw new InstructionError('cannot normalize nothing');
    const wd = path.isAbsolute(requested) ? path.normalize(requested) : path.join('/', this.workdir(), requested);
    const normalized = wd.length > 1 ? wd.replace(/\/+$/, '') : wd;
    this.config.WorkingDir = normalized;
    const createdBy = `WORKDIR ${normalized}`;
    if (normalized === '/') return configStep(createdBy);
    const step: Step = { kind: 'workdir', createdBy, path: normalized };
    if (this.config.User) step.user = this.config.User;
    return step;
  }

  private copy(instr: CopyInstruction): Step {
    if (instr.from !== undefined && expandWord(instr.from, () => undefined, this.opts.escape) !== instr.from) {
      throw new InstructionError(
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
      const content = h.expand ? this.expansions.spend(expandHeredoc(body, this.lookup)) : body;
      return { name: h.name, content };
    });
    const chmod = chmodText !== undefined && chmodText !== '' ? parseChmod(chmodText) : undefined;
    if (checksum) checkChecksumSources(sources);
    if (instr.parents) checkPatterns('--parents', sources.map((s) => splitParentsSource(s).pattern));

    const op: CopyOp = {
      isAdd: instr.keyword === 'ADD',
      sources,
      heredocs,
      dest: this.destination(destRaw),
      link: instr.link,
      exclude: checkPatterns('--exclude', instr.exclude.map((e) => this.expand(e))),
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
    const { command, inlineFiles } = runCommandLine(instr);
    const args = this.withShell(command);
    const op: RunOp = { args, env, workdir: this.workdir(), mounts, inlineFiles, location: instr.location };
    if (this.config.User) op.user = this.config.User;
    if (instr.network !== undefined) op.network = instr.network as RunOp['network'];
    if (instr.security !== undefined) op.security = instr.security;
    const prefix = this.argsInScope();
    const createdBy = `RUN ${[...(prefix.length > 0 ? [`|${prefix.length}`, ...prefix] : []), ...args].join(' ')} # buildkit`;
    return { kind: 'run', createdBy, op };
  }

  /**
   * BuildKit's runCommandString names the ARGs in scope ("|N K=V ..." before RUN's
   * command), so the cache key and history change when a build arg changes.
   */
  private argsInScope(): string[] {
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
    return argStrings;
  }
}

const configStep = (createdBy: string): Step => ({ kind: 'config', createdBy });

/**
 * RUN's command line with its heredocs: one heredoc as the whole command is the script
 * (run as a file when it has a shebang, so its interpreter is honoured); heredocs after
 * a command are appended to it as the shell would read them.
 */
function runCommandLine(instr: RunInstruction): { command: CommandLine; inlineFiles: RunOp['inlineFiles'] } {
  const cmd = instr.command;
  if (cmd.form !== 'shell' || instr.heredocs.length === 0) return { command: cmd, inlineFiles: [] };
  if (!parseHeredocMarker(cmd.command)) {
    let script = cmd.command;
    for (const h of instr.heredocs) script += `\n${h.content}${h.name}`;
    return { command: { form: 'shell', command: script }, inlineFiles: [] };
  }
  const doc = instr.heredocs[0]!;
  const data = heredocBody(doc);
  if (!data.startsWith('#!')) return { command: { form: 'shell', command: data }, inlineFiles: [] };
  const file = path.join('/dev/pipes', doc.name);
  return { command: { form: 'shell', command: file }, inlineFiles: [{ path: file, content: data, mode: 0o755 }] };
}

function parseChmod(text: string): number {
  if (!/^[0-7]+$/.test(text) || parseInt(text, 8) > 0o7777) {
    throw new InstructionError(`invalid chmod parameter: '${text}'. it should be octal string and between 0 and 07777`);
  }
  return parseInt(text, 8);
}

/** COPY --exclude (or --parents) patterns, checked here so a malformed one is an error of its line, not of the step that runs it. */
function checkPatterns(flag: string, patterns: string[]): string[] {
  try {
    createIgnoreMatcher(patterns);
  } catch (e) {
    if (e instanceof IgnorePatternError) throw new InstructionError(`${flag}: ${e.message}`);
    throw e;
  }
  return patterns;
}

function checkChecksumSources(sources: string[]): void {
  if (sources.length !== 1) throw new InstructionError("checksum can't be specified for multiple sources");
  if (!/^(https?:\/\/|git@|git:\/\/)/.test(sources[0]!) && !sources[0]!.endsWith('.git')) {
    throw new InstructionError('checksum requires HTTP(S) or Git sources');
  }
}

function expansionFailureAsInstructionError<T>(expansion: () => T): T {
  try {
    return expansion();
  } catch (e) {
    if (e instanceof ExpansionError) throw new InstructionError(e.message);
    throw e;
  }
}

/** Heredoc bodies expand variables but keep quotes and escapes (BuildKit's ExpandRaw). */
function expandHeredoc(body: string, lookup: (name: string) => string | undefined): string {
  return expansionFailureAsInstructionError(() => expandWord(body, lookup, '\\', { skipProcessQuotes: true }));
}
