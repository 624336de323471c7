import { describe, expect, it } from 'vitest';
import { run } from '../helpers/tools.js';
import { busyboxContainerRoot } from '../helpers/containerRoot.js';

const { store, ts, tsOk } = busyboxContainerRoot({ runc: 'runc', conmon: 'conmon', skopeo: 'skopeo' });

/** Adds /new/file, changes /etc/passwd, deletes /bin/wc, replaces /home/app with an empty directory. */
const CHANGES = 'mkdir /new && echo hello > /new/file && echo extra:x:2:2::/:/bin/sh >> /etc/passwd && rm /bin/wc && rm -rf /home/app && mkdir /home/app';

describe('diff and commit', () => {
  it('diff lists what the container added, changed and deleted, sorted as docker', async () => {
    await tsOk('run', '--name', 'd1', '--network', 'none', 'busybox', 'sh', '-c', CHANGES);
    const { stdout } = await tsOk('diff', 'd1');
    expect(stdout).toBe(['C /bin', 'D /bin/wc', 'C /etc', 'C /etc/passwd', 'C /home', 'C /home/app', 'A /new', 'A /new/file', ''].join('\n'));
  });

  it('diff of a fresh container is empty, and of a missing one an error', async () => {
    await tsOk('run', '--name', 'd2', 'busybox', 'true');
    expect((await tsOk('diff', 'd2')).stdout).toBe('');
    const missing = await ts('diff', 'nope');
    expect(missing.code).toBe(125);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('commit makes an image with the container\'s changes as one more layer', async () => {
    await tsOk('commit', '-m', 'my change', '-a', 'Jane <j@example.com>', '-c', 'CMD ["cat", "/new/file"]', '-c', 'ENV GREETING=hi', '-c', 'LABEL a=b', 'd1', 'committed');
    expect((await tsOk('run', '--rm', 'committed')).stdout).toBe('hello\n');
    expect((await tsOk('run', '--rm', 'committed', 'sh', '-c', 'tail -1 /etc/passwd; test -e /bin/wc || echo gone; ls -A /home/app | wc -l; echo $GREETING')).stdout)
      .toBe('extra:x:2:2::/:/bin/sh\ngone\n0\nhi\n');
    const base = JSON.parse((await run('skopeo', ['inspect', `oci:${store.root}/oci:localhost/busybox:latest`])).stdout) as { Layers: string[] };
    const img = JSON.parse((await run('skopeo', ['inspect', `oci:${store.root}/oci:localhost/committed:latest`])).stdout) as { Layers: string[]; Labels: Record<string, string>; Env: string[] };
    expect(img.Layers).toHaveLength(base.Layers.length + 1);
    expect(img.Layers.slice(0, -1)).toEqual(base.Layers);
    expect(img.Labels).toEqual({ a: 'b' });
    expect(img.Env).toContain('GREETING=hi');
    const config = JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${store.root}/oci:localhost/committed:latest`])).stdout) as { author: string; history: { comment?: string; author?: string }[]; config: { Cmd: string[] } };
    expect(config.author).toBe('Jane <j@example.com>');
    expect(config.history.at(-1)).toMatchObject({ comment: 'my change', author: 'Jane <j@example.com>' });
    expect(config.config.Cmd).toEqual(['cat', '/new/file']);
  });

  it('a container of the committed image shows no changes of its own', async () => {
    await tsOk('run', '--name', 'd3', 'committed', 'true');
    expect((await tsOk('diff', 'd3')).stdout).toBe('');
  });

  it('commit refuses a change that is not a config instruction, and keeps nothing', async () => {
    const bad = await ts('commit', '-c', 'RUN echo hi', 'd1', 'bad');
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/RUN is not a valid change instruction/);
    expect((await ts('inspect', 'bad')).code).not.toBe(0);
  });
});
