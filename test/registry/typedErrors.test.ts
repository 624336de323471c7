import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageLocationError, parseImageLocation, ToolError } from '@tsbuild/oci-layout';
import { RegistryError, RegistrySession, RepositoryClient, TransferError } from '@tsbuild/registry';
import { startRegistry } from '../helpers/registryHarness.js';

let registry: Awaited<ReturnType<typeof startRegistry>>;

beforeAll(async () => {
  registry = await startRegistry();
});

afterAll(async () => {
  await registry?.stop();
});

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (e) {
    return e;
  }
  throw new Error('it succeeded');
}

describe('registry errors carry a kind and the exit code', () => {
  it('a registry refusal is a RegistryError of its status kind, exit 1 as skopeo', async () => {
    const session = new RegistrySession(registry.host);
    try {
      const e = await failure(() => new RepositoryClient(session, 'no/such').getManifest('latest'));
      expect(e).toBeInstanceOf(RegistryError);
      expect(e).toBeInstanceOf(ToolError);
      expect(e).toMatchObject({ kind: 'not-found', status: 404, code: 'MANIFEST_UNKNOWN', exitCode: 1 });
    } finally {
      await session.close();
    }
  });

  it('a registry nobody answers for is a TransferError "unreachable" with the network code, naming the request', async () => {
    const session = new RegistrySession('127.0.0.1:1');
    try {
      const e = await failure(() => session.request({ method: 'GET', url: '/v2/x/tags/list', scopes: [], expect: [200], retry: false }));
      expect(e).toBeInstanceOf(TransferError);
      expect(e).toMatchObject({ kind: 'unreachable', code: 'ECONNREFUSED', exitCode: 1 });
      expect((e as Error).message).toContain('127.0.0.1:1');
    } finally {
      await session.close();
    }
  });

  it('a location that names no image is an ImageLocationError', () => {
    for (const text of ['docker://', 'oci:', 'oci-archive::tag']) {
      expect(() => parseImageLocation(text)).toThrow(ImageLocationError);
      try {
        parseImageLocation(text);
      } catch (e) {
        expect(e).toMatchObject({ kind: 'invalid-location', exitCode: 1 });
      }
    }
  });
});
