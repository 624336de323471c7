import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * Removes the bridge plugin's masquerade rules of a container whose netns is
 * already gone. The plugin's DEL finds them through the addresses on the
 * container's eth0, which it cannot read without the netns, so they would
 * stay; here they are found by the comment the plugin tags them with
 * (`name: "<network>" id: "<container>"`) and removed the way it would.
 */
export async function removeOrphanMasquerade(networkName: string, containerId: string): Promise<void> {
  const comment = `name: "${networkName}" id: "${containerId}"`;
  const saved = `--comment ${JSON.stringify(comment)}`;
  const { stdout } = await exec('iptables-save', ['-t', 'nat']);
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('-A POSTROUTING ') || !line.includes(saved)) continue;
    const match = / -s (\S+) .* -j (CNI-[0-9a-f]+)$/.exec(line);
    if (!match) continue;
    const [, source, chain] = match as unknown as [string, string, string];
    await exec('iptables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-s', source, '-m', 'comment', '--comment', comment, '-j', chain]);
    await exec('iptables', ['-w', '-t', 'nat', '-F', chain]);
    await exec('iptables', ['-w', '-t', 'nat', '-X', chain]);
  }
}
