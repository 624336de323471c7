import { describe, expect, test } from 'vitest';
import { DockerfileError, parseDockerfile, type Instruction } from '@tsbuild/builder';

const parse = (src: string) => parseDockerfile(src, 'Dockerfile');
const instrs = (src: string): Instruction[] => parse(src).stages.flatMap((s) => s.instructions);

function parseError(src: string): DockerfileError {
  try {
    parse(src);
  } catch (e) {
    expect(e).toBeInstanceOf(DockerfileError);
    return e as DockerfileError;
  }
  throw new Error('expected a DockerfileError');
}

describe('structure', () => {
  test('directives, global ARGs, stages with names and platforms, locations', () => {
    const df = parse(
      [
        '# syntax=docker/dockerfile:1',
        '# escape=\\',
        'ARG BASE=alpine',
        '',
        '# a comment',
        'FROM --platform=$BUILDPLATFORM ${BASE} AS Build',
        '  RUN echo hi',
        'from scratch',
        'COPY --from=build /out /',
      ].join('\n'),
    );
    expect(df.directives).toEqual({ syntax: 'docker/dockerfile:1', escape: '\\' });
    expect(df.globalArgs[0]!.args).toEqual([{ key: 'BASE', value: 'alpine' }]);
    expect(df.stages).toHaveLength(2);
    expect(df.stages[0]!.from).toMatchObject({ image: '${BASE}', name: 'build', platform: '$BUILDPLATFORM' });
    expect(df.stages[0]!.from.location).toEqual({ file: 'Dockerfile', line: 6, column: 1 });
    expect(df.stages[0]!.instructions[0]!.location).toEqual({ file: 'Dockerfile', line: 7, column: 3 });
    expect(df.stages[1]!.from.image).toBe('scratch');
    expect(df.stages[1]!.instructions[0]).toMatchObject({ keyword: 'COPY', from: 'build', sources: ['/out'], dest: '/' });
  });

  test('continuations skip comment and blank lines; original keeps the joined text', () => {
    const [run] = instrs('FROM a\nRUN echo a \\\n  # not part of it\n\n  b \\\n  c\nUSER x\n');
    expect(run).toMatchObject({ keyword: 'RUN', command: { form: 'shell', command: 'echo a   b   c' }, endLine: 6 });
    expect(run!.original).toBe('RUN echo a   b   c');
  });

  test('# escape=` changes the continuation character', () => {
    const df = parse('# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo done\n');
    expect(df.escape).toBe('`');
    expect(df.stages[0]!.instructions[0]).toMatchObject({ command: { form: 'shell', command: 'dir c:\\   && echo done' } });
  });

  test('a directive after a comment is just a comment', () => {
    expect(parse('# hello\n# escape=`\nFROM a\n').escape).toBe('\\');
  });
});

describe('heredocs', () => {
  test('RUN with two heredocs, <<- strips tabs from the terminator, quoted delimiter disables expansion', () => {
    const [run, user] = instrs('FROM a\nRUN <<EOF cat > /x && <<-"EO2" cat\nhello $X\nEOF\n\tbye\n\tEO2\nUSER me\n');
    expect(run).toMatchObject({
      keyword: 'RUN',
      heredocs: [
        { name: 'EOF', content: 'hello $X\n', chomp: false, expand: true },
        { name: 'EO2', content: '\tbye\n', chomp: true, expand: false },
      ],
      endLine: 6,
    });
    expect(user).toMatchObject({ keyword: 'USER', value: 'me', location: { line: 7 } });
  });

  test('COPY <<EOF dest is an inline file source', () => {
    const [copy] = instrs("FROM a\nCOPY <<EOF <<'B' /etc/\none\nEOF\ntwo\nB\n");
    expect(copy).toMatchObject({
      keyword: 'COPY',
      sources: [],
      dest: '/etc/',
      heredocs: [
        { name: 'EOF', content: 'one\n', expand: true },
        { name: 'B', content: 'two\n', expand: false },
      ],
    });
  });

  test('heredocs are not recognised in exec form or on other instructions', () => {
    const [run, label] = instrs('FROM a\nRUN ["cat", "<<EOF"]\nLABEL x=<<EOF\n');
    expect(run).toMatchObject({ command: { form: 'exec', args: ['cat', '<<EOF'] }, heredocs: [] });
    expect(label).toMatchObject({ pairs: [{ key: 'x', value: '<<EOF' }] });
  });

  test('unterminated heredoc', () => {
    const e = parseError('FROM a\nRUN <<EOF\necho\n');
    expect(e.message).toBe('Dockerfile:2:1: RUN: unterminated heredoc');
  });
});

describe('instructions', () => {
  test('ENV and LABEL: key=value pairs keep quotes for the expander; legacy form takes the rest of the line', () => {
    const [env, legacy, label] = instrs('FROM a\nENV A=1 B="x y" C=a\\ b\nENV A 1 2\nLABEL "com.x"="v 1" b=2\n');
    expect(env).toMatchObject({ pairs: [{ key: 'A', value: '1' }, { key: 'B', value: '"x y"' }, { key: 'C', value: 'a\\ b' }] });
    expect(legacy).toMatchObject({ pairs: [{ key: 'A', value: '1 2' }] });
    expect(label).toMatchObject({ pairs: [{ key: '"com.x"', value: '"v 1"' }, { key: 'b', value: '2' }] });
  });

  test('CMD/ENTRYPOINT exec and shell form; invalid JSON falls back to shell form', () => {
    const [a, b, c] = instrs('FROM a\nCMD ["/hello", "x"]\nENTRYPOINT exec nginx -g "daemon off;"\nCMD [/bin/true]\n');
    expect(a).toMatchObject({ keyword: 'CMD', command: { form: 'exec', args: ['/hello', 'x'] } });
    expect(b).toMatchObject({ keyword: 'ENTRYPOINT', command: { form: 'shell', command: 'exec nginx -g "daemon off;"' } });
    expect(c).toMatchObject({ command: { form: 'shell', command: '[/bin/true]' } });
  });

  test('COPY/ADD flags', () => {
    const [copy, add] = instrs(
      'FROM a\nCOPY --chown=1:2 --chmod=644 --link --exclude=*.md --exclude=x --parents a b /dst/\n' +
        'ADD --checksum=sha256:abc --keep-git-dir=false --unpack=true https://x/y.tar /z\n',
    );
    expect(copy).toMatchObject({ chown: '1:2', chmod: '644', link: true, parents: true, exclude: ['*.md', 'x'], sources: ['a', 'b'], dest: '/dst/' });
    expect(add).toMatchObject({ keyword: 'ADD', checksum: 'sha256:abc', keepGitDir: false, unpack: true, sources: ['https://x/y.tar'] });
  });

  test('RUN flags, SHELL, HEALTHCHECK, EXPOSE, VOLUME, ONBUILD, MAINTAINER', () => {
    const list = instrs(
      [
        'FROM a',
        'RUN --mount=type=cache,target=/root/.cache --network=none make',
        'SHELL ["/bin/bash", "-c"]',
        'HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD curl -f http://localhost/',
        'HEALTHCHECK NONE',
        'EXPOSE 8080 80/udp',
        'VOLUME ["/data", "/logs"]',
        'VOLUME /a /b',
        'ONBUILD RUN echo built',
        'MAINTAINER Jane <jane@example.com>',
      ].join('\n'),
    );
    expect(list[0]).toMatchObject({ mounts: ['type=cache,target=/root/.cache'], network: 'none', command: { command: 'make' } });
    expect(list[1]).toMatchObject({ shell: ['/bin/bash', '-c'] });
    expect(list[2]).toMatchObject({ test: ['CMD-SHELL', 'curl -f http://localhost/'], interval: 30e9, timeout: 90e9, retries: 3 });
    expect(list[3]).toMatchObject({ test: ['NONE'] });
    expect(list[4]).toMatchObject({ values: ['80/udp', '8080'] });
    expect(list[5]).toMatchObject({ values: ['/data', '/logs'] });
    expect(list[6]).toMatchObject({ values: ['/a', '/b'] });
    expect(list[7]).toMatchObject({ keyword: 'ONBUILD', expression: 'RUN echo built' });
    expect(list[8]).toMatchObject({ keyword: 'MAINTAINER', value: 'Jane <jane@example.com>' });
  });
});

describe('errors name file:line:column and the instruction', () => {
  test.each([
    ['FROM a\nFOO bar\n', 'Dockerfile:2:1: FOO: unknown instruction: FOO'],
    ['RUN x\nFROM a\n', 'Dockerfile:1:1: RUN: no build stage in current context (expected FROM before this instruction)'],
    ['ARG A=1\n', 'Dockerfile:1:1: dockerfile contains no stages to build'],
    ['# only a comment\n', 'Dockerfile:1:1: file with no instructions'],
    ['FROM a\n  COPY onlyone\n', 'Dockerfile:2:3: COPY: COPY requires at least two arguments, but only one was provided. Destination could not be determined'],
    ['FROM a\nENV A\n', 'Dockerfile:2:1: ENV: ENV must have two arguments'],
    ['FROM a\nLABEL\n', 'Dockerfile:2:1: LABEL: LABEL requires at least one argument'],
    ['FROM a\nCOPY --form=x a b\n', 'Dockerfile:2:1: COPY: unknown flag: form'],
    ['FROM a\nCOPY --chown a b\n', 'Dockerfile:2:1: COPY: missing a value on flag: chown'],
    ['FROM a\nSHELL /bin/sh -c\n', 'Dockerfile:2:1: SHELL: SHELL requires the arguments to be in JSON form'],
    ['FROM a b\n', 'Dockerfile:1:1: FROM: FROM requires either one or three arguments'],
    ['FROM a AS 1x\n', 'Dockerfile:1:1: FROM: invalid name for build stage: "1x", name can\'t start with a number or contain symbols'],
    ['FROM a\nCMD ["a", 1]\n', 'Dockerfile:2:1: CMD: when using JSON array syntax, arrays must be comprised of strings only'],
    ['FROM a\nONBUILD FROM b\n', "Dockerfile:2:1: ONBUILD: FROM isn't allowed as an ONBUILD trigger"],
    ['FROM a\nHEALTHCHECK --interval=5 CMD x\n', 'Dockerfile:2:1: HEALTHCHECK: time: invalid duration "5"'],
    ['FROM a\nWORKDIR\n', 'Dockerfile:2:1: WORKDIR: WORKDIR requires exactly one argument'],
    ['# escape=x\nFROM a\n', "Dockerfile:1:1: invalid escape token 'x' does not match ` or \\"],
  ])('%j', (src, message) => {
    const e = parseError(src);
    expect(e.message).toBe(message);
    expect(e.location?.file).toBe('Dockerfile');
  });
});

describe('what the fuzz harness found (test/fuzz)', () => {
  test('a JSON form with a non-string element is a DockerfileError at its line, for every keyword that may take a heredoc', () => {
    for (const keyword of ['COPY', 'ADD', 'RUN']) {
      const e = parseError(`FROM scratch\n${keyword} [ "echo", [ "nested json" ] ]\n`);
      expect(e.location).toEqual({ file: 'Dockerfile', line: 2, column: 1 });
      expect(e.message).toBe(`Dockerfile:2:1: ${keyword}: when using JSON array syntax, arrays must be comprised of strings only`);
    }
    expect(parseError('FROM scratch\nONBUILD COPY ["a", 1]\n').location?.line).toBe(2);
  });
});
