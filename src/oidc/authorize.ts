/**
 * The authorization request (OIDC Core 3.1.2.1): code flow with PKCE S256
 * (RFC 7636), a fresh state and nonce per attempt.
 *
 * Everything but state, nonce and challenge is the same for every attempt of a
 * realm: that part of the URL is built once per realm and provider metadata
 * (re-discovery brings new metadata, hence a new prefix), and an attempt only
 * appends its three base64url values, which need no escaping.
 */
import type { ProviderMetadata } from './provider.js';
import { RESERVED_AUTHORIZATION_PARAMS } from '../config/defaults.js';
import { pkceChallenge, type LoginAttempt } from '../session/login-attempt.js';

export interface AuthorizationParams {
  clientId: string;
  redirectUri: string;
  scopes: readonly string[];
  extraParams: Readonly<Record<string, string>>;
}

/** The authorization endpoint with every parameter that does not change between attempts. */
export function fixedAuthorizationUrl(metadata: ProviderMetadata, params: AuthorizationParams): string {
  const url = new URL(metadata.authorization_endpoint);
  for (const [key, value] of Object.entries(params.extraParams)) if (!RESERVED_AUTHORIZATION_PARAMS.has(key)) url.searchParams.set(key, value);
  const scopes = params.scopes.includes('openid') ? params.scopes : ['openid', ...params.scopes];
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', params.clientId);
  url.searchParams.set('redirect_uri', params.redirectUri);
  url.searchParams.set('scope', scopes.join(' '));
  url.searchParams.set('code_challenge_method', 'S256');
  url.hash = ''; // an authorization endpoint has no fragment (RFC 6749 3.1); the attempt's values go after the query
  return url.href;
}

const fixedParts = new WeakMap<ProviderMetadata, WeakMap<AuthorizationParams, string>>();

/** `params` should be one object per realm (RealmRuntime.authorization): it keys the cache of the fixed part. */
export function buildAuthorizationUrl(metadata: ProviderMetadata, params: AuthorizationParams, attempt: LoginAttempt): string {
  let byParams = fixedParts.get(metadata);
  if (byParams === undefined) {
    byParams = new WeakMap();
    fixedParts.set(metadata, byParams);
  }
  let fixed = byParams.get(params);
  if (fixed === undefined) {
    fixed = fixedAuthorizationUrl(metadata, params);
    byParams.set(params, fixed);
  }
  // state, nonce and the challenge are base64url (login-attempt.ts): safe in a query as they are
  return `${fixed}&state=${attempt.state}&nonce=${attempt.nonce}&code_challenge=${pkceChallenge(attempt.codeVerifier)}`;
}
