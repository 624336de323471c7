import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DockerfileError, parseDockerfile, parseOnbuildTriggers, type Instruction } from '@tsbuild/builder';
import { BUILDKIT_DOCKERFILE_FIXTURES } from '../helpers/fixtures.js';

/**
 * BuildKit's parser test data (frontend/dockerfile/parser): each testfiles/X/Dockerfile against
 * its `result`, the AST dump BuildKit's parser_test.go compares. We have no raw AST, so each
 * instruction is written back in that dump format from what parseDockerfile made of it.
 */
const DIR = join(BUILDKIT_DOCKERFILE_FIXTURES, 'parser');

/** Go's %q for the strings in these files. */
function goQuote(s: string): string {
  const named: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };
  let out = '"';
  for (const c of s) {
    const code = c.codePointAt(0)!;
    if (named[c]) out += named[c];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

/** The leading `--flag` words of an instruction as BuildKit's parser splits them off (`--` ends them). */
function flagsOf(original: string): { flags: string[]; rest: string } {
  let rest = original.replace(/^\S+\s*/, '');
  const flags: string[] = [];
  for (;;) {
    const m = /^(--\S*)\s*/.exec(rest);
    if (!m) break;
    rest = rest.slice(m[0].length);
    if (m[1] === '--') break;
    flags.push(m[1]!);
  }
  return { flags, rest };
}

function dump(instr: Instruction): string {
  const { flags, rest } = flagsOf(instr.original);
  let keyword = instr.keyword.toLowerCase();
  let args: string[];
  switch (instr.keyword) {
    case 'FROM':
      args = [instr.image, ...(instr.name === undefined ? [] : ['AS', instr.name])];
      break;
    case 'ARG':
      args = instr.args.map((a) => (a.value === undefined ? a.key : `${a.key}=${a.value}`));
      break;
    case 'ENV':
    case 'LABEL':
      // `ENV name value` (no `=` in the first word) is the legacy form, marked "" instead of "=".
      args = /^[^\s=]+(\s|$)/.test(rest) ? instr.pairs.flatMap((p) => [p.key, p.value, '']) : instr.pairs.flatMap((p) => [p.key, p.value, '=']);
      break;
    case 'MAINTAINER':
      keyword = 'label';
      args = ['maintainer', instr.value, ''];
      break;
    case 'RUN':
    case 'CMD':
    case 'ENTRYPOINT':
      args = instr.command.form === 'shell' ? [instr.command.command] : instr.command.args;
      break;
    case 'COPY':
    case 'ADD':
      args = [...instr.sources, instr.dest];
      break;
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
      args = [instr.value];
      break;
    case 'EXPOSE':
    case 'VOLUME':
      args = instr.values;
      break;
    case 'SHELL':
      args = instr.shell;
      break;
    case 'HEALTHCHECK': {
      const [type, ...test] = instr.test;
      args = type === 'CMD-SHELL' ? ['CMD', ...test] : [type!, ...test];
      break;
    }
    case 'ONBUILD':
      return `(onbuild ${dump(parseOnbuildTriggers([instr.expression], instr.location)[0]!)})`;
  }
  const flagText = flags.length > 0 ? ` [${flags.map(goQuote).join(' ')}]` : '';
  return `(${keyword}${flagText}${args.map((a) => ` ${goQuote(a)}`).join('')})`;
}

/** EXPOSE's ports come sorted, as BuildKit's instruction layer (parseExpose) sorts them. */
function sortedExpose(row: string): string {
  return row.startsWith('(expose ') ? `(expose ${(row.match(/"[^"]*"/g) ?? []).sort().join(' ')})` : row;
}

function instructionsOf(source: string): Instruction[] {
  const df = parseDockerfile(source, 'Dockerfile');
  return [...df.globalArgs, ...df.stages.flatMap((s) => [s.from, ...s.instructions])].sort((a, b) => a.location.line - b.location.line);
}

/**
 * Instructions BuildKit's parser accepts but its instruction layer (instructions.Parse, which
 * every build goes through) refuses, and so do we: they are checked to fail with these errors,
 * then left out with their rows. `line` is the Dockerfile line, `row` the result line (0-based).
 */
const REFUSED: Record<string, { line: number; row: number; error: string }[]> = {
  flags: [
    { line: 3, row: 2, error: 'COPY: unknown flag: user' },
    { line: 4, row: 3, error: 'COPY: unknown flag: doit' },
    { line: 5, row: 4, error: 'COPY: unknown flag: user' },
    { line: 6, row: 5, error: 'COPY: unknown flag: doit' },
    { line: 8, row: 7, error: 'CMD: unknown flag: doit' },
    { line: 9, row: 8, error: 'CMD: unknown flag: doit' },
    { line: 10, row: 9, error: 'CMD: unknown flag: doit' },
  ],
  health: [
    { line: 4, row: 3, error: 'HEALTHCHECK requires at least one argument' },
    { line: 7, row: 5, error: 'HEALTHCHECK: Missing command after HEALTHCHECK CMD' },
    { line: 10, row: 8, error: 'HEALTHCHECK: Unknown type "CONNECT" in HEALTHCHECK (try CMD)' },
  ],
};

/** Files with no FROM: BuildKit's parser takes them, a build needs a stage; they are parsed after a FROM of ours. */
const NEEDS_FROM = new Set(['json', 'jeztah-invalid-json-json-inside-string', 'jeztah-invalid-json-json-inside-string-double', 'jeztah-invalid-json-single-quotes', 'jeztah-invalid-json-unterminated-bracket', 'jeztah-invalid-json-unterminated-string']);

describe('testfiles (TestParseCases)', () => {
  const dirs = readdirSync(join(DIR, 'testfiles')).sort();

  test('all 33 cases are here', () => {
    expect(dirs).toHaveLength(33);
  });

  test.each(dirs)('%s', (dir) => {
    const lines = readFileSync(join(DIR, 'testfiles', dir, 'Dockerfile'), 'utf8').split('\n');
    const want = readFileSync(join(DIR, 'testfiles', dir, 'result'), 'utf8').replace(/\n$/, '').split('\n');
    for (const refused of REFUSED[dir] ?? []) {
      const alone = `FROM scratch\n${lines[refused.line - 1]}\n`;
      expect(() => instructionsOf(alone)).toThrow(DockerfileError);
      expect(() => instructionsOf(alone)).toThrow(refused.error);
      lines[refused.line - 1] = '';
      want[refused.row] = '(refused)';
    }
    const source = (NEEDS_FROM.has(dir) ? 'FROM scratch\n' : '') + lines.join('\n');
    const got = instructionsOf(source).map(dump);
    if (NEEDS_FROM.has(dir)) expect(got.shift()).toBe('(from "scratch")');
    expect(got).toEqual(want.filter((row) => row !== '(refused)').map(sortedExpose));
  });
});

describe('testfiles-negative (TestParseErrorCases)', () => {
  test.each(readdirSync(join(DIR, 'testfiles-negative')).sort())('%s is refused', (dir) => {
    const source = readFileSync(join(DIR, 'testfiles-negative', dir, 'Dockerfile'), 'utf8');
    expect(() => instructionsOf(source)).toThrow(DockerfileError);
  });
});

describe('testfile-line (TestParseIncludesLineNumbers)', () => {
  test('each instruction spans the lines BuildKit reports', () => {
    const source = readFileSync(join(DIR, 'testfile-line', 'Dockerfile'), 'utf8');
    const want = JSON.parse(readFileSync(join(DIR, 'testfile-line', 'expected-lines.json'), 'utf8')) as [number, number][];
    expect(instructionsOf(source).map((i) => [i.location.line, i.endLine])).toEqual(want);
  });
});
