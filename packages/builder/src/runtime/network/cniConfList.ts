import { invokePlugin, type CniResult, type PluginCall, type PluginConfig } from './cniPlugin.js';
import type { ConfList } from './bridgeNetwork.js';
import { NetworkError } from './networkError.js';
import type { PortMapping } from './portMapping.js';

/** Per-container values a plugin receives under runtimeConfig when it declares the capability. */
export interface RuntimeConfig {
  portMappings: readonly PortMapping[];
}

type Target = Omit<PluginCall, 'command'>;

/** The portmap plugin's runtimeConfig entry: hostIP is left out to mean every address. */
function portMappingsArg(ports: readonly PortMapping[]): Record<string, unknown>[] {
  return ports.map((p) => ({
    hostPort: p.hostPort,
    containerPort: p.containerPort,
    protocol: p.protocol,
    ...(p.hostIP ? { hostIP: p.hostIP } : {}),
  }));
}

/**
 * One plugin's stdin as the spec builds it from a list: the list's name and
 * cniVersion, runtimeConfig holding only the capabilities the plugin asks
 * for, and the previous result when there is one.
 */
function pluginConfig(list: ConfList, index: number, runtime: RuntimeConfig, prevResult: CniResult | undefined): PluginConfig {
  const plugin = list.plugins[index]!;
  const capabilities = (plugin.capabilities ?? {}) as Record<string, boolean>;
  const runtimeConfig: Record<string, unknown> = {};
  if (capabilities.portMappings) runtimeConfig.portMappings = portMappingsArg(runtime.portMappings);
  return {
    ...plugin,
    name: list.name,
    cniVersion: list.cniVersion,
    ...(Object.keys(runtimeConfig).length > 0 ? { runtimeConfig } : {}),
    ...(prevResult ? { prevResult } : {}),
  };
}

/**
 * portmap with no port mappings passes the previous result through on ADD and
 * has nothing to undo on DEL (its own first check): not executing it saves a
 * process per start and per stop of every container that publishes nothing.
 */
function idle(list: ConfList, index: number, runtime: RuntimeConfig): boolean {
  return list.plugins[index]!.type === 'portmap' && runtime.portMappings.length === 0;
}

/**
 * ADD through the list in order, each plugin given the previous one's result.
 * `recordResult` sees every intermediate result, so what DEL needs is stored
 * even if this process dies half way. Resolves with the final result.
 */
export async function addConfList(
  list: ConfList, target: Target, runtime: RuntimeConfig, recordResult: (result: CniResult) => Promise<void>,
): Promise<CniResult> {
  let result: CniResult | undefined;
  for (let i = 0; i < list.plugins.length; i++) {
    if (idle(list, i, runtime)) continue;
    const next = await invokePlugin(pluginConfig(list, i, runtime, result), { command: 'ADD', ...target });
    if (!next) throw new NetworkError('plugin', `CNI plugin ${list.plugins[i]!.type} returned no result for ADD`);
    result = next;
    await recordResult(result);
  }
  if (!result) throw new NetworkError('plugin', `CNI network ${list.name} has no plugins`);
  return result;
}

/**
 * DEL through the list in reverse, each plugin given the ADD result. Every
 * plugin runs even when one fails, so one refusal leaves as little as
 * possible behind; the first failure is thrown at the end.
 */
export async function delConfList(list: ConfList, target: Target, runtime: RuntimeConfig, prevResult: CniResult | undefined): Promise<void> {
  let firstFailure: unknown;
  for (let i = list.plugins.length - 1; i >= 0; i--) {
    if (idle(list, i, runtime)) continue;
    try {
      await invokePlugin(pluginConfig(list, i, runtime, prevResult), { command: 'DEL', ...target });
    } catch (e) {
      firstFailure ??= e;
    }
  }
  if (firstFailure !== undefined) throw firstFailure;
}
