import { Option, type Command } from 'commander';
import type { TransportOptions } from '@tsbuild/registry';
import { parseCreds } from './credsOption.js';

export interface RegistryOptions {
  tlsVerify?: string;
  registriesConf?: string;
  creds?: string;
}

/** How the commands that reach registries find and trust them (skopeo's spelling). */
export function withRegistryOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--tls-verify <bool>', 'require HTTPS with verified certificates (false also allows plain HTTP)').choices(['true', 'false']).default('true'))
    .option('--registries-conf <file>', 'registries.conf to use instead of the standard ones');
}

/** What `--tls-verify`, `--registries-conf` and `--creds` say, as ImageTransports takes it. */
export async function registryTransportOptions(opts: RegistryOptions): Promise<TransportOptions> {
  return {
    tlsVerify: opts.tlsVerify !== 'false',
    ...(opts.registriesConf ? { registriesConf: opts.registriesConf } : {}),
    ...(opts.creds !== undefined ? { credentials: await parseCreds(opts.creds, '--creds') } : {}),
  };
}
