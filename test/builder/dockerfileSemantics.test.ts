import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '@tsbuild/builder';
import { LocalStore } from '@tsbuild/oci-layout';
import { buildCase, writeContext, type BuiltCase, type ContextFile } from '../helpers/buildCase.js';
import { run } from '../helpers/tools.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let store: LocalStore;

beforeAll(async () => {
  store = await LocalStore.open(await dirs.make('tsbuild-semantics-'));
});
afterAll(() => dirs.cleanup());

async function build(files: Record<string, ContextFile>, dockerfile: string, opts: Parameters<typeof buildCase>[4] = {}): Promise<BuiltCase> {
  return buildCase(await dirs.make(), store, files, dockerfile, opts);
}

const paths = (c: BuiltCase) => Object.keys(c.tree).sort();

describe('ENV and variable substitution', () => {
  it('substitutes in COPY/WORKDIR/ENV/LABEL (one ENV sees the values from before it), ${v:-w}, ${v:+w}, not in CMD', async () => {
    const c = await build({ f: 'x' }, [
      'FROM scratch',
      'ENV A=hello B=${A}_x',
      'ENV A=changed C=$A',
      'ARG UNSET',
      'LABEL one="${UNSET:-fallback}" two="${A:+isset}" three=${UNSET:+never}',
      'WORKDIR /$C',
      'COPY f ${B}.txt',
      'CMD echo $A',
    ].join('\n'));
    expect(c.config.config?.Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=changed', 'B=_x', 'C=hello']);
    expect(c.config.config?.Labels).toEqual({ one: 'fallback', two: 'isset', three: '' });
    expect(c.config.config?.WorkingDir).toBe('/hello');
    expect(c.tree['hello/_x.txt']?.type).toBe('file');
    expect(c.config.config?.Cmd).toEqual(['/bin/sh', '-c', 'echo $A']);
  });
});

describe('WORKDIR', () => {
  it('relative paths build on the previous one, and the directories exist', async () => {
    const c = await build({ f: 'x' }, 'FROM scratch\nWORKDIR /a\nWORKDIR b\nWORKDIR ../c\nCOPY f .\n');
    expect(c.config.config?.WorkingDir).toBe('/a/c');
    expect(paths(c)).toEqual(['a', 'a/b', 'a/c', 'a/c/f']);
    expect(c.tree['a/b']).toMatchObject({ type: 'dir', mode: 0o755, uid: 0, gid: 0 });
  });
});

describe('COPY destination and source rules', () => {
  const files = {
    'dir/sub/x': 'x', 'dir/top': 't', 'a.txt': 'a', 'b.txt': 'b', 'c.md': 'c', 'one': '1',
  };

  it('a directory copies its contents, not itself', async () => {
    const c = await build(files, 'FROM scratch\nCOPY dir /out\n');
    expect(paths(c)).toEqual(['out', 'out/sub', 'out/sub/x', 'out/top']);
  });

  it('globs match per path component', async () => {
    const c = await build(files, 'FROM scratch\nCOPY *.txt /t/\nCOPY [a-c].md /m/\nCOPY di?/s*/x /g/\n');
    expect(paths(c)).toEqual(['g', 'g/x', 'm', 'm/c.md', 't', 't/a.txt', 't/b.txt']);
  });

  it('trailing slash: file name vs into a directory; an existing directory is entered', async () => {
    const c = await build(files, 'FROM scratch\nCOPY one /renamed\nCOPY one /into/\nCOPY dir /existing\nCOPY one /existing\n');
    expect(c.tree['renamed']?.type).toBe('file');
    expect(c.tree['into/one']?.type).toBe('file');
    expect(c.tree['existing/one']?.sha256).toBe(c.tree['renamed']?.sha256);
  });

  it('keeps modes and content; symlinks stay symlinks; hard links stay linked', async () => {
    const work = await dirs.make();
    const context = join(work, 'context');
    await writeContext(context, { 'bin/tool': { content: '#!/bin/sh\n', mode: 0o4755 }, 'bin/secret': { content: 's', mode: 0o600 }, Dockerfile: 'FROM scratch\nCOPY bin /bin\n' });
    await symlink('tool', join(context, 'bin/alias'));
    await run('ln', [join(context, 'bin/tool'), join(context, 'bin/another-name')]);
    await mkdir(join(context, 'bin/sticky'), { mode: 0o1777 });
    await run('chmod', ['1777', join(context, 'bin/sticky')]);
    const result = await buildImage(store, { contextDir: context, tags: ['links'], buildArgs: {}, labels: {}, compression: 'zstd', log: () => undefined });
    const c = await buildCase(work, store, {}, 'FROM localhost/links\n');
    expect(c.tree['bin/tool']).toMatchObject({ type: 'file', mode: 0o4755, uid: 0, gid: 0 });
    expect(c.tree['bin/secret']).toMatchObject({ mode: 0o600 });
    expect(c.tree['bin/alias']).toMatchObject({ type: 'symlink', target: 'tool' });
    expect(c.tree['bin/tool']?.hardLinkOf ?? c.tree['bin/another-name']?.hardLinkOf).toBeDefined();
    expect(c.tree['bin/sticky']).toMatchObject({ type: 'dir', mode: 0o1777 });
    expect(result.digest).toMatch(/^sha256:/);
  });

  it('--chown by number and by name from the image, --chmod', async () => {
    const c = await build(
      { passwd: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n', group: 'root:x:0:\nstaff:x:50:\n', f: 'f' },
      'FROM scratch\nCOPY passwd group /etc/\nCOPY --chown=7:8 f /num\nCOPY --chown=app f /name\nCOPY --chown=app:staff --chmod=640 f /both\nCOPY --chown=42 f /uidonly\n',
    );
    expect(c.tree['num']).toMatchObject({ uid: 7, gid: 8 });
    expect(c.tree['name']).toMatchObject({ uid: 1000, gid: 1000 });
    expect(c.tree['both']).toMatchObject({ uid: 1000, gid: 50, mode: 0o640 });
    expect(c.tree['uidonly']).toMatchObject({ uid: 42, gid: 42 });
  });

  it('COPY heredoc writes inline files', async () => {
    const c = await build({}, 'FROM scratch\nCOPY <<EOF /etc/motd\nhello\nEOF\n');
    expect(await readFile(join(c.rootfs, 'etc/motd'), 'utf8')).toBe('hello\n');
    expect(c.tree['etc/motd']?.mode).toBe(0o644);
  });
});

describe('ADD', () => {
  it('auto-extracts a local tar (detected by content) and copies other files as they are', async () => {
    const work = await dirs.make();
    const context = join(work, 'context');
    await writeContext(context, { 'src/etc/hostname': 'box\n', 'plain.gz.txt': 'not an archive', Dockerfile: 'FROM scratch\nADD rootfs.bin /\nADD plain.gz.txt /copied/\n' });
    await run('tar', ['-C', join(context, 'src'), '--owner=5', '--group=6', '-czf', join(context, 'rootfs.bin'), 'etc']);
    await buildImage(store, { contextDir: context, tags: ['added'], buildArgs: {}, labels: {}, compression: 'gzip', log: () => undefined });
    const c = await buildCase(work, store, {}, 'FROM localhost/added\n');
    expect(await readFile(join(c.rootfs, 'etc/hostname'), 'utf8')).toBe('box\n');
    expect(c.tree['etc/hostname']).toMatchObject({ uid: 5, gid: 6 });
    expect(c.tree['rootfs.bin']).toBeUndefined();
    expect(c.tree['copied/plain.gz.txt']?.type).toBe('file');
  });
});

describe('ADD from a URL', () => {
  it('downloads into the layer with mode 0600 and Last-Modified as mtime; --checksum is verified', async () => {
    const body = 'remote content\n';
    const server = createServer((req, res) => {
      if (req.url === '/files/remote.txt') {
        res.writeHead(200, { 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
        res.end(body);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const sum = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      const c = await build({}, `FROM scratch\nADD ${url}/files/remote.txt /dl/\nADD --checksum=${sum} ${url}/files/remote.txt /named\n`);
      expect(await readFile(join(c.rootfs, 'dl/remote.txt'), 'utf8')).toBe(body);
      expect(c.tree['dl/remote.txt']).toMatchObject({ mode: 0o600, mtimeMs: Date.parse('2015-10-21T07:28:00Z') });
      expect(c.tree['named']?.type).toBe('file');
      const wrong = `sha256:${'0'.repeat(64)}`;
      await expect(build({}, `FROM scratch\nADD --checksum=${wrong} ${url}/files/remote.txt /x\n`)).rejects.toThrow(/Dockerfile:2:1: ADD: checksum of .* does not match/);
      await expect(build({}, `FROM scratch\nADD ${url}/missing /x\n`)).rejects.toThrow(/HTTP 404/);
    } finally {
      server.close();
    }
  });
});

describe('.dockerignore', () => {
  it('comments, ** and ! exceptions, last match wins', async () => {
    const c = await build(
      {
        '.dockerignore': '# logs\n*.log\n!keep.log\n**/tmp\nsecret*\n!secret-but-public\n',
        'a.log': '', 'keep.log': '', 'deep/er/tmp/x': '', 'deep/file': '', 'secret1': '', 'secret-but-public': '',
      },
      'FROM scratch\nCOPY . /ctx/\n',
    );
    expect(paths(c).filter((p) => p.startsWith('ctx/'))).toEqual([
      'ctx/.dockerignore', 'ctx/Dockerfile', 'ctx/deep', 'ctx/deep/er', 'ctx/deep/file', 'ctx/keep.log', 'ctx/secret-but-public',
    ]);
  });

  it('an exception re-includes a file inside an ignored directory', async () => {
    const c = await build({ '.dockerignore': 'dir\n!dir/keep\n', 'dir/keep': 'k', 'dir/drop': 'd' }, 'FROM scratch\nCOPY . /c/\n');
    expect(paths(c)).toEqual(['c', 'c/.dockerignore', 'c/Dockerfile', 'c/dir', 'c/dir/keep']);
  });

  it('<Dockerfile>.dockerignore beside the Dockerfile wins over the context one', async () => {
    const work = await dirs.make();
    const context = join(work, 'context');
    await writeContext(context, { '.dockerignore': 'a\n', 'build/app.Dockerfile': 'FROM scratch\nCOPY . /c/\n', 'build/app.Dockerfile.dockerignore': 'b\nbuild\n', a: '', b: '' });
    const result = await buildImage(store, { contextDir: context, dockerfile: join(context, 'build/app.Dockerfile'), tags: ['ign'], buildArgs: {}, labels: {}, compression: 'gzip', log: () => undefined });
    const c = await buildCase(work, store, {}, `FROM ${result.digest.slice(7, 19)}\n`);
    expect(paths(c)).toEqual(['c', 'c/.dockerignore', 'c/a']);
  });
});

describe('ENTRYPOINT / CMD / SHELL', () => {
  it('shell form goes through SHELL, exec form is kept, invalid JSON falls back to shell form', async () => {
    const c = await build({}, 'FROM scratch\nSHELL ["/bin/bash", "-eu", "-c"]\nENTRYPOINT [not json\nCMD ["a", "b"]\n');
    expect(c.config.config?.Entrypoint).toEqual(['/bin/bash', '-eu', '-c', '[not json']);
    expect(c.config.config?.Cmd).toEqual(['a', 'b']);
    expect(c.config.config?.Shell).toEqual(['/bin/bash', '-eu', '-c']);
  });

  it('ENTRYPOINT clears a CMD inherited from the base image, but not one set in the same stage', async () => {
    await build({}, 'FROM scratch\nCMD ["base-cmd"]\n', { tags: ['with-cmd'] });
    const child = await build({}, 'FROM localhost/with-cmd\nENTRYPOINT ["/ep"]\n');
    expect(child.config.config?.Entrypoint).toEqual(['/ep']);
    expect(child.config.config?.Cmd ?? null).toBeNull();
    const same = await build({}, 'FROM scratch\nCMD ["mine"]\nENTRYPOINT ["/ep"]\n');
    expect(same.config.config?.Cmd).toEqual(['mine']);
  });
});

describe('ARG scoping', () => {
  const dockerfile = 'ARG V=global\nARG ONLY_GLOBAL=g\nFROM scratch\nARG V\nARG LOCAL=default\nLABEL v=$V local=$LOCAL g=x${ONLY_GLOBAL}x\n';

  it('a global ARG is visible only where re-declared; defaults apply', async () => {
    const c = await build({}, dockerfile);
    expect(c.config.config?.Labels).toEqual({ v: 'global', local: 'default', g: 'xx' });
  });

  it('--build-arg overrides both kinds', async () => {
    const c = await build({}, dockerfile, { buildArgs: { V: 'cli', LOCAL: 'cli2' } });
    expect(c.config.config?.Labels).toEqual({ v: 'cli', local: 'cli2', g: 'xx' });
  });

  it('global ARGs are usable in FROM', async () => {
    await build({ f: 'f' }, 'FROM scratch\nCOPY f /from-base\n', { tags: ['argbase:v2'] });
    const c = await build({}, 'ARG TAG=v2\nFROM localhost/argbase:${TAG}\n');
    expect(c.tree['from-base']?.type).toBe('file');
  });
});

describe('config instructions', () => {
  it('LABEL, EXPOSE ranges, VOLUME, STOPSIGNAL, USER, --label, history', async () => {
    const c = await build({}, [
      'FROM scratch',
      'LABEL a=1 "b c"="d e"',
      'EXPOSE 80 53/udp 8000-8002',
      'VOLUME ["/data", "/logs"]',
      'VOLUME /cache',
      'STOPSIGNAL SIGQUIT',
      'USER 1000:1000',
    ].join('\n'), { labels: { a: 'from-cli' } });
    const cfg = c.config.config!;
    expect(cfg.Labels).toEqual({ a: 'from-cli', 'b c': 'd e' });
    expect(Object.keys(cfg.ExposedPorts ?? {}).sort()).toEqual(['53/udp', '80/tcp', '8000/tcp', '8001/tcp', '8002/tcp']);
    expect(Object.keys(cfg.Volumes ?? {}).sort()).toEqual(['/cache', '/data', '/logs']);
    expect(cfg.StopSignal).toBe('SIGQUIT');
    expect(cfg.User).toBe('1000:1000');
    expect(c.config.history?.every((h) => h.empty_layer === true)).toBe(true);
    expect(c.config.history).toHaveLength(6);
    expect(c.config.rootfs.diff_ids).toEqual([]);
  });

  it('# escape=` changes the line continuation character', async () => {
    const c = await build({}, '# escape=`\nFROM scratch\nLABEL path=C:\\dir `\n  other=1\n');
    expect(c.config.config?.Labels).toEqual({ path: 'C:\\dir', other: '1' });
  });
});

describe('ONBUILD', () => {
  it('stores triggers, and runs them first when the image is used as a base', async () => {
    const base = await build({}, 'FROM scratch\nONBUILD COPY f /triggered\nONBUILD LABEL from=trigger\n', { tags: ['onbuild-base'] });
    expect(base.config.config?.OnBuild).toEqual(['COPY f /triggered', 'LABEL from=trigger']);
    expect(paths(base)).toEqual([]);
    const child = await build({ f: 'content' }, 'FROM localhost/onbuild-base\nLABEL own=1\n');
    expect(paths(child)).toEqual(['triggered']);
    expect(child.config.config?.Labels).toEqual({ from: 'trigger', own: '1' });
    expect(child.config.config?.OnBuild ?? []).toEqual([]);
  });
});

describe('stages', () => {
  it('FROM an earlier stage inherits its files and config; --target stops early; unused stages are skipped', async () => {
    const dockerfile = 'FROM scratch AS base\nCOPY a /a\nENV FROM_BASE=1\nFROM base AS final\nCOPY b /b\nFROM scratch AS unused\nCOPY missing /\n';
    const c = await build({ a: 'a', b: 'b' }, dockerfile, { target: 'final' });
    expect(paths(c)).toEqual(['a', 'b']);
    expect(c.config.config?.Env).toContain('FROM_BASE=1');
    const base = await build({ a: 'a', b: 'b' }, dockerfile, { target: 'base' });
    expect(paths(base)).toEqual(['a']);
  });
});

describe('reproducible builds', () => {
  it('--source-date-epoch gives byte-identical digests on fresh stores and clamps mtimes', async () => {
    const files = { 'x/y': 'y', z: 'z' };
    const dockerfile = 'FROM scratch\nCOPY x /x\nCOPY z /\nWORKDIR /w\nCMD ["/z"]\n';
    const digests: string[] = [];
    for (let i = 0; i < 2; i++) {
      const fresh = await LocalStore.open(await dirs.make());
      const c = await buildCase(await dirs.make(), fresh, files, dockerfile, { sourceDateEpoch: 1_000_000_000 });
      digests.push(c.digest);
      expect(c.config.created).toBe('2001-09-09T01:46:40.000Z');
      expect(Object.values(c.tree).every((n) => n.type === 'symlink' || n.mtimeMs <= 1_000_000_000_000)).toBe(true);
    }
    expect(digests[0]).toBe(digests[1]);
  });
});
