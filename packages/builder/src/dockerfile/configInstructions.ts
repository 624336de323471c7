/**
 * The instructions that only set a field of the image config, as BuildKit's dispatchLabel,
 * dispatchStopSignal, dispatchVolume, dispatchExpose, dispatchShell and dispatchHealthcheck:
 * each takes its values already expanded against the stage's scope, sets the field and
 * returns the history string it leaves.
 */
import type { ContainerConfig } from '@tsbuild/oci-layout';
import type { HealthcheckInstruction } from './instructions.js';
import { InstructionError } from './instructionError.js';
import { goDuration, goList } from './historyFormat.js';

export function setLabels(config: ContainerConfig, pairs: (readonly [key: string, value: string])[]): string {
  const labels = (config.Labels ??= {});
  for (const [key, value] of pairs) labels[key] = value;
  return `LABEL ${pairs.map(([key, value]) => `${key}=${value}`).join(' ')}`;
}

export function setUser(config: ContainerConfig, user: string): string {
  config.User = user;
  return `USER ${user}`;
}

export function setStopSignal(config: ContainerConfig, signal: string): string {
  if (!isSignal(signal)) throw new InstructionError(`Invalid signal: ${signal}`);
  config.StopSignal = signal;
  return `STOPSIGNAL ${signal}`;
}

export function setVolumes(config: ContainerConfig, volumes: string[]): string {
  if (volumes.some((v) => v === '')) throw new InstructionError('VOLUME specified can not be an empty string');
  const set = (config.Volumes ??= {});
  for (const v of volumes) set[v] = {};
  return `VOLUME ${goList(volumes)}`;
}

/** `ports`: "port/proto" entries, as `portSpecs` makes them. */
export function setExposedPorts(config: ContainerConfig, ports: string[]): string {
  const set = (config.ExposedPorts ??= {});
  for (const p of ports) set[p] = {};
  return `EXPOSE ${goList(ports)}`;
}

export function setShell(config: ContainerConfig, shell: readonly string[]): string {
  config.Shell = [...shell];
  return `SHELL ${goList(shell)}`;
}

export function setHealthcheck(config: ContainerConfig, instr: HealthcheckInstruction): string {
  const hc: NonNullable<ContainerConfig['Healthcheck']> = { Test: [...instr.test] };
  if (instr.interval) hc.Interval = instr.interval;
  if (instr.timeout) hc.Timeout = instr.timeout;
  if (instr.startPeriod) hc.StartPeriod = instr.startPeriod;
  if (instr.startInterval) hc.StartInterval = instr.startInterval;
  if (instr.retries) hc.Retries = instr.retries;
  config.Healthcheck = hc;
  const text =
    `{Test:${goList(instr.test)} Interval:${goDuration(instr.interval)} Timeout:${goDuration(instr.timeout)} ` +
    `StartPeriod:${goDuration(instr.startPeriod)} StartInterval:${goDuration(instr.startInterval)} Retries:${instr.retries}}`;
  return `HEALTHCHECK ${text}`;
}

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL',
  'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1',
  'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
]);

/** moby's signal.ParseSignal: a number, or a name with or without SIG, RTMIN+n/RTMAX-n. */
function isSignal(s: string): boolean {
  if (/^\d+$/.test(s)) return Number(s) > 0 && Number(s) <= 64;
  const name = s.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(name) || /^RTMIN\+\d+$/.test(name) || /^RTMAX-\d+$/.test(name);
}

/** EXPOSE words -> "port/proto" entries (ranges expanded), as BuildKit's portSpecs. */
export function portSpecs(words: string[]): string[] {
  return words.flatMap(parsePortSpec);
}

function parsePortSpec(raw: string): string[] {
  const parts = raw.split(':');
  const container = parts[parts.length - 1]!;
  const slash = container.indexOf('/');
  const portText = slash >= 0 ? container.slice(0, slash) : container;
  const protoText = slash >= 0 ? container.slice(slash + 1) : '';
  if (portText === '') throw new InstructionError(`invalid port: "${raw}": no port specified`);
  const proto = protoText === '' ? 'tcp' : protoText.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new InstructionError(`invalid port: "${raw}": invalid proto: ${protoText}`);
  const m = /^(\d+)(?:-(\d+))?$/.exec(portText);
  const start = m ? Number(m[1]) : NaN;
  const end = m?.[2] !== undefined ? Number(m[2]) : start;
  if (!m || start > 65535 || end > 65535 || end < start) throw new InstructionError(`invalid containerPort: ${portText}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}
