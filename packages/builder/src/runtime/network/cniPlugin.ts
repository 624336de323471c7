import { join } from 'node:path';
import { runProcess } from '@tsbuild/oci-layout';
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

/** How long one plugin may take (a bridge ADD waits for the xtables lock) before it is called stuck, not waited for. */
const PLUGIN_TIMEOUT_MS = 60_000;

/**
 * Executes one CNI plugin the way the spec says a runtime does: parameters in
 * CNI_* variables, the configuration on stdin, a result (ADD) or an error
 * object on stdout. A failure becomes a NetworkError carrying the plugin's msg.
 */
export async function invokePlugin(config: PluginConfig, call: PluginCall): Promise<CniResult | undefined> {
  let outcome;
  try {
    outcome = await runProcess([join(CNI_PLUGIN_DIR, config.type)], { env: pluginEnv(call), input: JSON.stringify(config), timeoutMs: PLUGIN_TIMEOUT_MS });
  } catch (e) {
    const hint = (e as NodeJS.ErrnoException).code === 'ENOENT' ? ' (apt-get install -y containernetworking-plugins)' : '';
    throw new NetworkError('plugin', `CNI plugin ${config.type}: ${(e as Error).message}${hint}`);
  }
  const out = outcome.stdout.toString('utf8').trim();
  if (outcome.status === 0) {
    if (call.command !== 'ADD') return undefined;
    const result = parseObject(out);
    if (!result) throw new NetworkError('plugin', `CNI plugin ${config.type} ADD gave no result object: ${JSON.stringify(out.slice(0, 80))}`);
    return result as unknown as CniResult;
  }
  let reason = outcome.timedOut ? `no answer within ${PLUGIN_TIMEOUT_MS / 1000}s` : outcome.stderr.toString('utf8').trim() || `exit status ${outcome.status ?? outcome.signal}`;
  const error = parseObject(out);
  if (error) reason = [error.msg, error.details].filter((s) => typeof s === 'string' && s !== '').join(': ') || reason;
  throw new NetworkError('plugin', `CNI plugin ${config.type} ${call.command} failed: ${reason}`);
}

/** A plugin's stdout as the JSON object the spec says it is, or undefined for anything else. */
function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
}
