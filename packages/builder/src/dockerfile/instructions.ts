/**
 * The typed model of a parsed Dockerfile. Values are as written (after quote handling
 * done by the parser where BuildKit does it at parse time); variable expansion happens
 * later, per stage, in StageState and planBuild, because it depends on ARG/ENV scope.
 */

/** 1-based line and column. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export class DockerfileError extends Error {
  constructor(
    /** What is wrong, without the location prefix. */
    readonly reason: string,
    readonly location?: SourceLocation,
    readonly instruction?: string,
  ) {
    const where = location ? `${location.file}:${location.line}:${location.column}: ` : '';
    super(`${where}${instruction ? `${instruction}: ` : ''}${reason}`);
    this.name = 'DockerfileError';
  }
}

export interface Heredoc {
  name: string;
  /** Body exactly as written (lines keep their "\n"); see `heredocBody` for `<<-`. */
  content: string;
  /** `<<-`: leading tabs are stripped from the body lines when it is used. */
  chomp: boolean;
  /** False when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no variable expansion. */
  expand: boolean;
}

/** Shell form is a single string run through SHELL; exec form is a JSON array used as is. */
export type CommandLine = { form: 'shell'; command: string } | { form: 'exec'; args: string[] };

interface Base {
  location: SourceLocation;
  /** Last source line of the instruction (heredoc bodies included), 1-based. */
  endLine: number;
  /** The logical line with continuations joined, as BuildKit keeps it (trimmed). */
  original: string;
}

export interface FromInstruction extends Base {
  keyword: 'FROM';
  image: string;
  /** Lower-cased stage name. */
  name?: string;
  platform?: string;
}
export interface ArgInstruction extends Base {
  keyword: 'ARG';
  args: { key: string; value?: string }[];
}
export interface KeyValueInstruction extends Base {
  keyword: 'ENV' | 'LABEL';
  pairs: { key: string; value: string }[];
}
export interface RunInstruction extends Base {
  keyword: 'RUN';
  command: CommandLine;
  heredocs: Heredoc[];
  /** Raw `--mount=` values (expanded later). */
  mounts: string[];
  network?: string;
  security?: string;
}
export interface CmdInstruction extends Base {
  keyword: 'CMD' | 'ENTRYPOINT';
  command: CommandLine;
}
export interface CopyInstruction extends Base {
  keyword: 'COPY' | 'ADD';
  sources: string[];
  heredocs: Heredoc[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  parents: boolean;
  exclude: string[];
  checksum?: string;
  keepGitDir?: boolean;
  unpack?: boolean;
}
export interface SingleValueInstruction extends Base {
  keyword: 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER';
  value: string;
}
export interface ListInstruction extends Base {
  keyword: 'EXPOSE' | 'VOLUME';
  values: string[];
}
export interface ShellInstruction extends Base {
  keyword: 'SHELL';
  shell: string[];
}
export interface HealthcheckInstruction extends Base {
  keyword: 'HEALTHCHECK';
  /** Test as it goes into the image config: ["NONE"], ["CMD", ...], ["CMD-SHELL", "..."]. */
  test: string[];
  /** Durations in nanoseconds (the image config unit); 0 when not given. */
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}
export interface OnbuildInstruction extends Base {
  keyword: 'ONBUILD';
  /** The trigger text stored in the image config's OnBuild. */
  expression: string;
}

export type Instruction =
  | FromInstruction
  | ArgInstruction
  | KeyValueInstruction
  | RunInstruction
  | CmdInstruction
  | CopyInstruction
  | SingleValueInstruction
  | ListInstruction
  | ShellInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

export interface Stage {
  index: number;
  from: FromInstruction;
  instructions: Exclude<Instruction, FromInstruction>[];
}

export interface Dockerfile {
  file: string;
  escape: string;
  /** Parser directives (`# syntax=`, `# escape=`, `# check=`), keys lower-cased. */
  directives: Record<string, string>;
  globalArgs: ArgInstruction[];
  stages: Stage[];
}
