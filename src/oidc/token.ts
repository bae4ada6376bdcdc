/**
 * The token endpoint (code redemption and refresh) and the userinfo endpoint.
 * Every answer that is not what the spec says — an HTTP error, HTML, a missing
 * id_token — becomes a GatehouseError with a code; the provider's own error text
 * goes to the detail (logs), never to the person.
 */
import { GatehouseError } from '../errors.js';
import { applyClientAuth, type ClientCredentials } from './client-auth.js';
import { jsonObject, providerRequest, type ProviderResponse } from './http.js';

/** How long a token or userinfo request may take, at sign-in and at refresh. */
export const TOKEN_REQUEST_TIMEOUT_MS = 10_000;

export interface TokenSet {
  idToken?: string | undefined;
  accessToken?: string | undefined;
  refreshToken?: string | undefined;
  /** seconds, as the provider said */
  expiresIn?: number | undefined;
}

export class TokenEndpointError extends GatehouseError {
  /** the OAuth error code, e.g. invalid_grant */
  readonly oauthError: string | undefined;
  constructor(oauthError: string | undefined, detail: string) {
    super('GH_TOKEN_REQUEST_FAILED', detail);
    this.oauthError = oauthError;
  }
}

async function tokenRequest(endpoint: string, credentials: ClientCredentials, form: URLSearchParams, timeoutMs: number): Promise<TokenSet> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  await applyClientAuth(credentials, endpoint, form, headers);
  let response: ProviderResponse;
  try {
    response = await providerRequest(endpoint, { method: 'POST', headers, body: form.toString(), timeoutMs, step: 'oidc.token' });
  } catch (cause) {
    throw new GatehouseError('GH_TOKEN_REQUEST_FAILED', `token endpoint unreachable: ${(cause as Error).message}`, { cause });
  }
  const body = jsonObject(response);
  if (response.status !== 200) {
    const oauthError = typeof body?.error === 'string' ? body.error.slice(0, 100) : undefined;
    throw new TokenEndpointError(oauthError, `token endpoint answered HTTP ${response.status}${oauthError ? ` (${oauthError})` : ''}`);
  }
  if (!body) throw new GatehouseError('GH_TOKEN_RESPONSE_INVALID', 'token endpoint answer is not JSON');
  if (typeof body.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer' && body.token_type.toLowerCase() !== 'dpop') {
    throw new GatehouseError('GH_TOKEN_RESPONSE_INVALID', `unexpected token_type ${body.token_type.slice(0, 20)}`);
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
  return {
    idToken: str(body.id_token),
    accessToken: str(body.access_token),
    refreshToken: str(body.refresh_token),
    expiresIn: typeof body.expires_in === 'number' && Number.isFinite(body.expires_in) ? body.expires_in : undefined,
  };
}

export async function redeemCode(
  endpoint: string,
  credentials: ClientCredentials,
  params: { code: string; redirectUri: string; codeVerifier: string },
  timeoutMs: number,
): Promise<TokenSet & { idToken: string }> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: params.code,
    redirect_uri: params.redirectUri,
    code_verifier: params.codeVerifier,
  });
  const tokens = await tokenRequest(endpoint, credentials, form, timeoutMs);
  if (!tokens.idToken) throw new GatehouseError('GH_TOKEN_RESPONSE_INVALID', 'token response has no id_token (is "openid" in the scopes?)');
  return tokens as TokenSet & { idToken: string };
}

export function refreshTokens(endpoint: string, credentials: ClientCredentials, refreshToken: string, timeoutMs: number): Promise<TokenSet> {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
  return tokenRequest(endpoint, credentials, form, timeoutMs);
}

/** OIDC Core 5.3.2: the userinfo sub MUST exactly match the ID token's sub. */
export async function fetchUserinfo(endpoint: string, accessToken: string, expectedSub: string, timeoutMs: number): Promise<Record<string, unknown>> {
  let response: ProviderResponse;
  try {
    response = await providerRequest(endpoint, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      timeoutMs,
      step: 'oidc.userinfo',
    });
  } catch (cause) {
    throw new GatehouseError('GH_USERINFO_FAILED', `userinfo unreachable: ${(cause as Error).message}`, { cause });
  }
  const body = jsonObject(response);
  if (response.status !== 200 || !body)
    throw new GatehouseError('GH_USERINFO_FAILED', `userinfo answered HTTP ${response.status}${body ? '' : ' without JSON'}`);
  if (body.sub !== expectedSub) throw new GatehouseError('GH_USERINFO_SUB_MISMATCH', 'userinfo sub differs from the ID token sub');
  return body;
}
