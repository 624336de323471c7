import { Option, type Command } from 'commander';
import type { TransportOptions } from '@tsbuild/registry';
import { parseCreds } from './credsOption.js';

export interface RegistryOptions {
  tlsVerify?: string;
  registriesConf?: string;
  creds?: string;
}

/** `--tls-verify`, as skopeo spells it; `appliesTo` says which of a command's registry traffic it governs. */
export function tlsVerifyOption(appliesTo?: string): Option {
  const what = 'require HTTPS with verified certificates (false also allows plain HTTP)';
  return new Option('--tls-verify <bool>', appliesTo ? `${appliesTo}: ${what}` : what).choices(['true', 'false']).default('true');
}

/**
 * How the commands that reach registries find and trust them (skopeo's spelling),
 * declared here once; `appliesTo` names what they govern when the command does more.
 */
export function withRegistryOptions(cmd: Command, appliesTo?: string): Command {
  return cmd
    .option('--registries-conf <file>', appliesTo ? `registries.conf for ${appliesTo}` : 'registries.conf to use instead of the standard ones')
    .addOption(tlsVerifyOption(appliesTo));
}

/** What `--tls-verify`, `--registries-conf` and `--creds` say, as ImageTransports takes it. */
export async function registryTransportOptions(opts: RegistryOptions): Promise<TransportOptions> {
  return {
    tlsVerify: opts.tlsVerify !== 'false',
    ...(opts.registriesConf ? { registriesConf: opts.registriesConf } : {}),
    ...(opts.creds !== undefined ? { credentials: await parseCreds(opts.creds, '--creds') } : {}),
  };
}
