/** A registry's refusal, shown with the distribution-spec error code, its message and the request that got it. */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly detail: string,
    readonly method: string,
    readonly url: string,
  ) {
    super(`${code ?? `HTTP ${status}`}: ${detail} (${method} ${url} -> ${status})`);
  }
}

interface SpecErrors {
  errors?: { code?: unknown; message?: unknown; detail?: unknown }[];
}

/** Builds the error from a response body in the spec's `{"errors":[{code,message}]}` shape, or from the status alone. */
export function registryErrorFrom(status: number, body: string, method: string, url: string): RegistryError {
  let code: string | undefined;
  let detail = body.trim().slice(0, 200) || statusText(status);
  try {
    const first = (JSON.parse(body) as SpecErrors).errors?.[0];
    if (first && typeof first.code === 'string') {
      code = first.code;
      detail = typeof first.message === 'string' && first.message ? first.message : statusText(status);
    }
  } catch {
    // not JSON: the raw text (or the status) is the best we have
  }
  return new RegistryError(status, code, detail, method, url);
}

function statusText(status: number): string {
  const texts: Record<number, string> = { 401: 'unauthorized', 403: 'denied', 404: 'not found', 405: 'operation not supported', 429: 'too many requests' };
  return texts[status] ?? (status >= 500 ? 'server error' : 'unexpected response');
}
