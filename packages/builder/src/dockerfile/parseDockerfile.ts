/**
 * Dockerfile text -> typed instructions, following BuildKit's parser
 * (frontend/dockerfile/parser + instructions/parse.go).
 *
 * dockerfile-ast supplies the parser directives. The logical-line scanner is our own:
 * dockerfile-ast keeps comment lines inside continuations and recognises heredocs on
 * instructions where BuildKit does not, and both change what a build does.
 */
import { DockerfileParser } from 'dockerfile-ast';
import {
  DockerfileError,
  type ArgInstruction,
  type CopyInstruction,
  type Dockerfile,
  type FromInstruction,
  type Heredoc,
  type Instruction,
  type SourceLocation,
  type Stage,
} from './instructions.js';
import { InstructionError } from './instructionError.js';
import { heredocBody, heredocMarkers, parseHeredocMarker } from './heredocMarkers.js';
import {
  commandLine, extractFlags, listArgs, parseDuration, parseFlags, parseJsonArray, parseKeyValues, parseWords, splitOnce, WHITESPACE, type FlagKind,
} from './instructionWords.js';

export { heredocBody, parseHeredocMarker };

const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);

interface LogicalLine {
  text: string;
  startLine: number;
  endLine: number;
  column: number;
}

function readDirectives(source: string, file: string): { escape: string; directives: Record<string, string> } {
  const directives: Record<string, string> = {};
  for (const d of DockerfileParser.parse(source).getDirectives()) {
    const name = d.getName().toLowerCase();
    // BuildKit stops reading directives at the first line that is not a known one.
    if (!KNOWN_DIRECTIVES.has(name)) break;
    const location = { file, line: d.getRange().start.line + 1, column: 1 };
    if (name in directives) throw new DockerfileError(`only one ${name} parser directive can be used`, location);
    directives[name] = d.getValue();
  }
  const escape = directives.escape ?? '\\';
  if (escape !== '\\' && escape !== '`') {
    throw new DockerfileError(`invalid escape token '${escape}' does not match \` or \\`, { file, line: 1, column: 1 });
  }
  return { escape, directives };
}

function isComment(line: string): boolean {
  return line.trimStart().startsWith('#');
}

function trimContinuation(line: string, escape: string): { text: string; continues: boolean } {
  const e = escape === '\\' ? '\\\\' : '`';
  const re = new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
  if (!re.test(line)) return { text: line, continues: false };
  return { text: line.replace(re, '$1'), continues: true };
}

/** Splits the source into physical lines, each still carrying its "\n" (heredoc bodies need it). */
function physicalLines(source: string): string[] {
  const text = source.startsWith('\uFEFF') ? source.slice(1) : source;
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  return lines;
}

function stripNewline(line: string): string {
  return line.replace(/[\r\n]+$/, '');
}

function splitCommand(text: string, escape: string): { keyword: string; flags: string[]; rest: string } {
  const [keyword, after] = splitOnce(text.trim(), WHITESPACE);
  if (after === undefined) return { keyword, flags: [], rest: '' };
  const { rest, flags } = extractFlags(after, escape);
  return { keyword, flags, rest: rest.trim() };
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

interface ParseContext {
  file: string;
  escape: string;
  lines: string[];
  /** Index of the next physical line to read (for heredoc bodies). */
  next: number;
}

/** Parses one logical line; heredoc bodies that follow it are read from ctx. */
function parseInstruction(line: LogicalLine, ctx: ParseContext): Instruction {
  const { keyword: word, flags, rest } = splitCommand(line.text, ctx.escape);
  const keyword = word.toUpperCase();
  const location: SourceLocation = { file: ctx.file, line: line.startLine, column: line.column };
  // Whatever part of the instruction is wrong (the heredoc check reads its JSON form too), the error says where.
  try {
    return parseInstructionParts(keyword, flags, rest, line, location, ctx);
  } catch (e) {
    if (e instanceof InstructionError) throw new DockerfileError(e.message, location, keyword);
    throw e;
  }
}

function parseInstructionParts(keyword: string, flags: string[], rest: string, line: LogicalLine, location: SourceLocation, ctx: ParseContext): Instruction {
  const base = { location, endLine: line.endLine, original: line.text.trim() };
  const heredocs: Heredoc[] = [];

  const canHaveHeredoc = (kw: string, r: string) => HEREDOC_KEYWORDS.has(kw) && parseJsonArray(r) === undefined;
  let heredocSource: { kw: string; rest: string } | undefined = { kw: keyword, rest };
  if (keyword === 'ONBUILD') {
    const sub = splitCommand(rest, ctx.escape);
    heredocSource = { kw: sub.keyword.toUpperCase(), rest: sub.rest };
  }
  if (heredocSource && canHaveHeredoc(heredocSource.kw, heredocSource.rest) && line.text.includes('<<')) {
    for (const marker of heredocMarkers(line.text)) {
      let content = '';
      let terminated = false;
      while (ctx.next < ctx.lines.length) {
        const physical = ctx.lines[ctx.next++]!;
        let candidate = stripNewline(physical);
        if (marker.chomp) candidate = candidate.replace(/^\t+/, '');
        if (candidate === marker.name) {
          terminated = true;
          break;
        }
        content += physical;
      }
      base.endLine = ctx.next;
      if (!terminated) throw new DockerfileError('unterminated heredoc', location, keyword);
      heredocs.push({ ...marker, content });
    }
  }

  return buildInstruction(keyword, flags, rest, heredocs, base, ctx);
}

function buildInstruction(
  keyword: string,
  rawFlags: string[],
  rest: string,
  heredocs: Heredoc[],
  base: { location: SourceLocation; endLine: number; original: string },
  ctx: ParseContext,
): Instruction {
  const noFlags = () => parseFlags(rawFlags, {});
  const exactlyOne = () => {
    if (rest === '') throw new InstructionError(`${keyword} requires exactly one argument`);
    noFlags();
    return rest;
  };
  switch (keyword) {
    case 'FROM': {
      const flags = parseFlags(rawFlags, { platform: 'string' });
      const args = rest === '' ? [] : rest.split(WHITESPACE);
      let name: string | undefined;
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        name = args[2]!.toLowerCase();
        if (!STAGE_NAME.test(name)) {
          throw new InstructionError(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`);
        }
      } else if (args.length !== 1) throw new InstructionError('FROM requires either one or three arguments');
      const from: FromInstruction = { ...base, keyword, image: args[0]! };
      if (name !== undefined) from.name = name;
      const platform = flags.get('platform')?.[0];
      if (platform !== undefined) from.platform = platform;
      return from;
    }
    case 'ARG': {
      noFlags();
      const words = parseWords(rest, ctx.escape);
      if (words.length === 0) throw new InstructionError('ARG requires at least one argument');
      const args = words.map((w) => {
        const eq = w.indexOf('=');
        if (eq === 0) throw new InstructionError('ARG names can not be blank');
        return eq < 0 ? { key: w } : { key: w.slice(0, eq), value: w.slice(eq + 1) };
      });
      return { ...base, keyword, args };
    }
    case 'ENV':
    case 'LABEL':
      noFlags();
      return { ...base, keyword, pairs: parseKeyValues(rest, keyword, ctx.escape) };
    case 'RUN': {
      const flags = parseFlags(rawFlags, { mount: 'strings', network: 'string', security: 'string' });
      const command = commandLine(rest) ?? { form: 'shell', command: '' };
      const run: Instruction = { ...base, keyword, command, heredocs, mounts: flags.get('mount') ?? [] };
      const network = flags.get('network')?.[0];
      if (network !== undefined) {
        if (!['none', 'host', 'default'].includes(network)) throw new InstructionError(`unsupported network mode: ${network}`);
        run.network = network;
      }
      const security = flags.get('security')?.[0];
      if (security !== undefined) run.security = security;
      return run;
    }
    case 'CMD':
    case 'ENTRYPOINT':
      noFlags();
      return { ...base, keyword, command: commandLine(rest) ?? { form: 'exec', args: [] } };
    case 'COPY':
    case 'ADD':
      return parseCopy(keyword, rawFlags, rest, heredocs, base);
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
    case 'MAINTAINER':
      return { ...base, keyword, value: exactlyOne() };
    case 'EXPOSE':
    case 'VOLUME': {
      noFlags();
      const values = keyword === 'EXPOSE' ? (rest === '' ? [] : rest.split(WHITESPACE)) : listArgs(rest);
      if (values.length === 0) throw new InstructionError(`${keyword} requires at least one argument`);
      if (keyword === 'VOLUME' && values.some((v) => v.trim() === '')) {
        throw new InstructionError('VOLUME specified can not be an empty string');
      }
      return { ...base, keyword, values: keyword === 'EXPOSE' ? [...values].sort() : values.map((v) => v.trim()) };
    }
    case 'SHELL': {
      noFlags();
      const cmd = commandLine(rest);
      if (!cmd) throw new InstructionError('SHELL requires at least one argument');
      if (cmd.form !== 'exec') throw new InstructionError(`SHELL requires the arguments to be in JSON form`);
      if (cmd.args.length === 0) throw new InstructionError('SHELL requires at least one argument');
      return { ...base, keyword, shell: cmd.args };
    }
    case 'HEALTHCHECK':
      return parseHealthcheck(rawFlags, rest, base);
    case 'ONBUILD': {
      noFlags();
      if (rest === '') throw new InstructionError('ONBUILD requires at least one argument');
      const sub = splitCommand(rest, ctx.escape);
      const trigger = sub.keyword.toUpperCase();
      if (trigger === 'ONBUILD') throw new InstructionError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new InstructionError(`${trigger} isn't allowed as an ONBUILD trigger`);
      // Validates the trigger now, as BuildKit does, so a broken trigger fails this build.
      buildInstruction(trigger, sub.flags, sub.rest, heredocs, base, ctx);
      let expression = base.original.replace(/^\s*ONBUILD\s*/i, '');
      for (const h of heredocs) expression += `\n${h.content}${h.name}`;
      return { ...base, keyword, expression };
    }
    default:
      throw new InstructionError(`unknown instruction: ${keyword}`);
  }
}

function parseCopy(
  keyword: 'COPY' | 'ADD',
  rawFlags: string[],
  rest: string,
  heredocs: Heredoc[],
  base: { location: SourceLocation; endLine: number; original: string },
): CopyInstruction {
  const spec: Record<string, FlagKind> =
    keyword === 'COPY'
      ? { chown: 'string', from: 'string', chmod: 'string', link: 'bool', exclude: 'strings', parents: 'bool' }
      : { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', unpack: 'bool', exclude: 'strings' };
  const args = listArgs(rest);
  if (args.length < 2) {
    throw new InstructionError(`${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`);
  }
  const flags = parseFlags(rawFlags, spec);
  const dest = args[args.length - 1]!;
  if (parseHeredocMarker(dest)) throw new InstructionError(`${keyword} cannot accept a heredoc as a destination`);
  const byName = new Map(heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const inline: Heredoc[] = [];
  for (const src of args.slice(0, -1)) {
    const marker = parseHeredocMarker(src);
    const doc = marker && byName.get(marker.name);
    if (doc) inline.push(doc);
    else sources.push(src);
  }
  const copy: CopyInstruction = {
    ...base,
    keyword,
    sources,
    heredocs: inline,
    dest,
    link: flags.get('link')?.[0] === 'true',
    parents: flags.get('parents')?.[0] === 'true',
    exclude: flags.get('exclude') ?? [],
  };
  const single = (name: string) => flags.get(name)?.[0];
  const from = single('from');
  if (from !== undefined && from !== '') copy.from = from;
  const chown = single('chown');
  if (chown !== undefined && chown !== '') copy.chown = chown;
  const chmod = single('chmod');
  if (chmod !== undefined && chmod !== '') copy.chmod = chmod;
  const checksum = single('checksum');
  if (checksum !== undefined && checksum !== '') copy.checksum = checksum;
  if (flags.has('keep-git-dir')) copy.keepGitDir = single('keep-git-dir') === 'true';
  if (flags.has('unpack')) copy.unpack = single('unpack') === 'true';
  return copy;
}

function parseHealthcheck(
  rawFlags: string[],
  rest: string,
  base: { location: SourceLocation; endLine: number; original: string },
): Instruction {
  const [typeWord, after] = splitOnce(rest, /\s+/);
  if (typeWord === '') throw new InstructionError('HEALTHCHECK requires at least one argument');
  const type = typeWord.toUpperCase();
  const zero = { interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  if (type === 'NONE') {
    if ((after ?? '').trim() !== '') throw new InstructionError('HEALTHCHECK NONE takes no arguments');
    return { ...base, keyword: 'HEALTHCHECK', test: ['NONE'], ...zero };
  }
  const flags = parseFlags(rawFlags, {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  });
  if (type !== 'CMD') throw new InstructionError(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  const cmd = commandLine((after ?? '').trim());
  if (!cmd || (cmd.form === 'exec' && cmd.args.length === 0)) throw new InstructionError('Missing command after HEALTHCHECK CMD');
  const test = cmd.form === 'exec' ? ['CMD', ...cmd.args] : ['CMD-SHELL', cmd.command];
  const retriesText = flags.get('retries')?.[0];
  let retries = 0;
  if (retriesText !== undefined && retriesText !== '') {
    if (!/^[+-]?\d+$/.test(retriesText)) throw new InstructionError(`strconv.ParseInt: parsing "${retriesText}": invalid syntax`);
    retries = Number(retriesText);
    if (retries < 0) throw new InstructionError(`--retries cannot be negative (${retries})`);
  }
  return {
    ...base,
    keyword: 'HEALTHCHECK',
    test,
    interval: parseDuration('interval', flags.get('interval')?.[0]),
    timeout: parseDuration('timeout', flags.get('timeout')?.[0]),
    startPeriod: parseDuration('start-period', flags.get('start-period')?.[0]),
    startInterval: parseDuration('start-interval', flags.get('start-interval')?.[0]),
    retries,
  };
}

/** Joins continuation lines the way BuildKit's parser does; yields one logical line at a time. */
function nextLogicalLine(ctx: ParseContext): LogicalLine | undefined {
  while (ctx.next < ctx.lines.length) {
    const physical = stripNewline(ctx.lines[ctx.next++]!);
    const startLine = ctx.next;
    const trimmed = physical.trimStart();
    const first = isComment(trimmed) ? '' : trimmed;
    let { text, continues } = trimContinuation(first, ctx.escape);
    if (!continues && text === '') continue;
    while (continues && ctx.next < ctx.lines.length) {
      const raw = stripNewline(ctx.lines[ctx.next++]!);
      if (isComment(raw)) continue;
      if (raw.trim() === '') continue;
      const part = trimContinuation(raw, ctx.escape);
      text += part.text;
      continues = part.continues;
    }
    return { text, startLine, endLine: ctx.next, column: physical.length - trimmed.length + 1 };
  }
  return undefined;
}

export function parseDockerfile(source: string, file: string): Dockerfile {
  const { escape, directives } = readDirectives(source, file);
  const ctx: ParseContext = { file, escape, lines: physicalLines(source), next: 0 };
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  let any = false;
  for (let line = nextLogicalLine(ctx); line; line = nextLogicalLine(ctx)) {
    any = true;
    const instr = parseInstruction(line, ctx);
    if (instr.keyword === 'FROM') {
      stages.push({ index: stages.length, from: instr, instructions: [] });
    } else if (stages.length === 0) {
      if (instr.keyword !== 'ARG') {
        throw new DockerfileError('no build stage in current context (expected FROM before this instruction)', instr.location, instr.keyword);
      }
      globalArgs.push(instr);
    } else {
      stages[stages.length - 1]!.instructions.push(instr);
    }
  }
  if (!any) throw new DockerfileError('file with no instructions', { file, line: 1, column: 1 });
  if (stages.length === 0) throw new DockerfileError('dockerfile contains no stages to build', { file, line: 1, column: 1 });
  return { file, escape, directives, globalArgs, stages };
}

/**
 * One instruction given on its own (an ONBUILD trigger, a `commit --change`), parsed with the
 * default escape and located at `at`. Throws DockerfileError.
 */
export function parseSingleInstruction(text: string, at: SourceLocation, what: string): Instruction {
  const ctx: ParseContext = { file: at.file, escape: '\\', lines: physicalLines(text), next: 0 };
  try {
    const line = nextLogicalLine(ctx);
    const instr = line && parseInstruction(line, ctx);
    if (!instr || nextLogicalLine(ctx)) throw new InstructionError(`${what} should be a single expression`);
    return { ...instr, location: at, endLine: at.line };
  } catch (e) {
    if (e instanceof InstructionError) throw new DockerfileError(e.message, at);
    throw e;
  }
}

/**
 * A base image's ONBUILD triggers as instructions, to apply (in order) before the stage's
 * own. Like BuildKit they are parsed on their own (default escape) and located at the FROM.
 * Stage dependencies they add (COPY --from) are not in the build plan: it is made before
 * base images are known.
 */
export function parseOnbuildTriggers(triggers: readonly string[], from: SourceLocation): Exclude<Instruction, FromInstruction>[] {
  return triggers.map((trigger) => {
    try {
      const instr = parseSingleInstruction(trigger, from, 'onbuild trigger');
      if (instr.keyword === 'FROM' || instr.keyword === 'ONBUILD' || instr.keyword === 'MAINTAINER') {
        throw new InstructionError(`${instr.keyword} isn't allowed as an ONBUILD trigger`);
      }
      return instr;
    } catch (e) {
      if (e instanceof InstructionError || e instanceof DockerfileError) {
        throw new DockerfileError(`base image ONBUILD trigger ${JSON.stringify(trigger)}: ${e instanceof DockerfileError ? e.reason : e.message}`, from, 'FROM');
      }
      throw e;
    }
  });
}
