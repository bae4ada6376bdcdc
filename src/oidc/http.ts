/**
 * The gateway's own calls to a provider (discovery, token, userinfo): undici,
 * bounded in time and size, so a slow or hostile provider cannot hang a sign-in
 * or fill memory.
 */
import { request } from 'undici';
import { tracedProviderCall, type StepName } from '../observe/tracing.js';

export interface ProviderResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export const MAX_PROVIDER_RESPONSE_BYTES = 1024 * 1024;

export interface ProviderRequestInit {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** the span this call is, when the request it serves is traced (observe/tracing.ts) */
  step?: StepName;
}

export function providerRequest(url: string, init: ProviderRequestInit): Promise<ProviderResponse> {
  return init.step === undefined ? send(url, init) : tracedProviderCall(init.step, init.method ?? 'GET', url, () => send(url, init));
}

async function send(url: string, init: ProviderRequestInit): Promise<ProviderResponse> {
  const response = await request(url, {
    method: init.method ?? 'GET',
    headers: init.headers,
    body: init.body,
    headersTimeout: init.timeoutMs,
    bodyTimeout: init.timeoutMs,
    maxRedirections: 0,
  } as Parameters<typeof request>[1]);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += (chunk as Buffer).length;
    if (size > MAX_PROVIDER_RESPONSE_BYTES) {
      response.body.destroy();
      throw new Error(`response from ${new URL(url).origin} larger than ${MAX_PROVIDER_RESPONSE_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return { status: response.statusCode, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') };
}

/** JSON body of a response, or null when it is not a JSON object (HTML error pages, garbage). */
export function jsonObject(response: ProviderResponse): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(response.text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
