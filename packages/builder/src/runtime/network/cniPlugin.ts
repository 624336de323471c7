import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { NetworkError } from './networkError.js';

/** Where Debian's containernetworking-plugins installs the plugin binaries. */
export const CNI_PLUGIN_DIR = '/usr/lib/cni';

/** The CNI spec's result (1.0.0): what ADD reports and DEL/CHECK receive back as prevResult. */
export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { interface?: number; address: string; gateway?: string }[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

/** One plugin's network configuration as the plugin reads it on stdin. */
export type PluginConfig = { type: string; name: string; cniVersion: string } & Record<string, unknown>;

export interface PluginCall {
  command: 'ADD' | 'DEL' | 'CHECK';
  containerId: string;
  /** Path of the network namespace; DEL may be given one that is gone. */
  netns: string;
  ifName: string;
}

/** Plugins run iptables, ip and sysctl helpers; make sure the sbin directories are on their PATH. */
function pluginEnv(call: PluginCall): NodeJS.ProcessEnv {
  const path = [process.env.PATH ?? '', '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean).join(':');
  return {
    PATH: path,
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifName,
    CNI_PATH: CNI_PLUGIN_DIR,
  };
}

/**
 * Executes one CNI plugin the way the spec says a runtime does: parameters in
 * CNI_* variables, the configuration on stdin, a result (ADD) or an error
 * object on stdout. A failure becomes a NetworkError carrying the plugin's msg.
 */
export function invokePlugin(config: PluginConfig, call: PluginCall): Promise<CniResult | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(CNI_PLUGIN_DIR, config.type), [], { env: pluginEnv(call), stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' ? ' (apt-get install -y containernetworking-plugins)' : '';
      reject(new NetworkError('plugin', `CNI plugin ${config.type}: ${e.message}${hint}`));
    });
    child.on('close', (code) => {
      const out = Buffer.concat(stdout).toString('utf8').trim();
      if (code === 0) {
        resolve(call.command === 'ADD' ? (JSON.parse(out) as CniResult) : undefined);
        return;
      }
      let reason = Buffer.concat(stderr).toString('utf8').trim() || `exit status ${code}`;
      if (out.startsWith('{')) {
        const error = JSON.parse(out) as { msg?: string; details?: string };
        reason = [error.msg, error.details].filter(Boolean).join(': ') || reason;
      }
      reject(new NetworkError('plugin', `CNI plugin ${config.type} ${call.command} failed: ${reason}`));
    });
    child.stdin.on('error', (e: NodeJS.ErrnoException) => {
      // EPIPE: the plugin died before reading its config; the close handler reports how it ended.
      if (e.code !== 'EPIPE') reject(e);
    });
    child.stdin.end(JSON.stringify(config));
  });
}
