import type { Server } from 'node:net';
import { afterEach } from 'vitest';
import type { RegistrySession } from '@tsbuild/registry';

/** The servers and registry sessions a test opens: push them here and they are closed after each test. */
export function closedAfterEach(): { servers: Server[]; sessions: RegistrySession[] } {
  const servers: Server[] = [];
  const sessions: RegistrySession[] = [];
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    for (const s of servers.splice(0)) s.close();
  });
  return { servers, sessions };
}
