import type { Platform } from '@tsbuild/oci-layout';

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** This machine's platform in OCI terms (Go's GOOS/GOARCH names). */
export function hostPlatform(): Platform {
  const architecture = GOARCH[process.arch] ?? process.arch;
  return { os: 'linux', architecture, ...(architecture === 'arm' ? { variant: 'v7' } : {}) };
}

export function formatPlatformName(p: Platform): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');
}

/** `os/arch[/variant]`, as `--platform` and `FROM --platform=` take it. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new Error(`invalid platform "${text}": expected os/arch[/variant], e.g. linux/amd64`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}
