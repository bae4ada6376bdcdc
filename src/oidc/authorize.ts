/**
 * The authorization request (OIDC Core 3.1.2.1): code flow with PKCE S256
 * (RFC 7636), a fresh state and nonce per attempt.
 */
import type { ProviderMetadata } from './provider.js';
import { pkceChallenge, type LoginAttempt } from '../session/login-attempt.js';

export interface AuthorizationParams {
  clientId: string;
  redirectUri: string;
  scopes: readonly string[];
  extraParams: Readonly<Record<string, string>>;
}

/** Parameters the operator may not override through extra_auth_params: they carry the security of the flow. */
const PROTECTED = new Set(['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'response_mode']);

export function buildAuthorizationUrl(metadata: ProviderMetadata, params: AuthorizationParams, attempt: LoginAttempt): string {
  const url = new URL(metadata.authorization_endpoint);
  for (const [key, value] of Object.entries(params.extraParams)) if (!PROTECTED.has(key)) url.searchParams.set(key, value);
  const scopes = params.scopes.includes('openid') ? params.scopes : ['openid', ...params.scopes];
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', params.clientId);
  url.searchParams.set('redirect_uri', params.redirectUri);
  url.searchParams.set('scope', scopes.join(' '));
  url.searchParams.set('state', attempt.state);
  url.searchParams.set('nonce', attempt.nonce);
  url.searchParams.set('code_challenge', pkceChallenge(attempt.codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  return url.toString();
}
