/**
 * `gatehouse check`, the provider side: what a reachable provider's discovery
 * document and clock say about a realm's configuration. Each finding names
 * the key to change and what to change it to.
 */
import type { RealmConfig } from '../config/types.js';
import type { KeyPath } from '../config/schema-check.js';
import { CLOCK_TOLERANCE_SEC } from '../oidc/id-token.js';

export interface ProviderReport {
  issuer: string;
  realms: string[];
  discovery: 'ok' | 'failed';
  jwks: 'ok' | 'failed' | 'skipped';
  /** signing keys in the JWKS */
  keys?: number | undefined;
  /** the provider's clock minus ours, in seconds, from its Date header (±1 s) */
  clock_skew_seconds?: number | undefined;
  end_session_endpoint?: string | undefined;
  backchannel_logout_supported?: boolean | undefined;
  error?: string | undefined;
}

export interface ProviderFinding {
  severity: 'error' | 'warning' | 'info';
  path: KeyPath | null;
  message: string;
  fix?: string | undefined;
}

/** Above this, warn: tolerance is eaten up by the skew, and short-lived tokens start failing. */
export const CLOCK_WARNING_SECONDS = 10;

export function clockFindings(provider: ProviderReport): ProviderFinding[] {
  const skew = provider.clock_skew_seconds;
  if (skew === undefined) return [];
  const size = Math.abs(skew);
  const how = `the clock of ${provider.issuer} is ${size} s ${skew > 0 ? 'ahead of' : 'behind'} this machine's`;
  const fix = 'synchronise both clocks with NTP (timedatectl set-ntp true, or chrony)';
  if (size > CLOCK_TOLERANCE_SEC) {
    return [
      {
        severity: 'error',
        path: null,
        message: `${how}: more than the ${CLOCK_TOLERANCE_SEC} s tolerance, so ID tokens will be refused as ${skew > 0 ? 'issued in the future' : 'expired'} (GH_ID_TOKEN_${skew > 0 ? 'IAT_FUTURE' : 'EXPIRED'})`,
        fix,
      },
    ];
  }
  if (size > CLOCK_WARNING_SECONDS) return [{ severity: 'warning', path: null, message: `${how}; sign-ins fail once it passes ${CLOCK_TOLERANCE_SEC} s`, fix }];
  return [];
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

/** What the discovery document says the provider supports, against what the realm asks for. */
export function checkProviderSupport(doc: Record<string, unknown>, provider: ProviderReport, realm: RealmConfig, name: string): ProviderFinding[] {
  const at = (...path: string[]): KeyPath => ['realms', name, ...path];
  const out: ProviderFinding[] = [];
  if (!provider.end_session_endpoint) {
    out.push({
      severity: 'warning',
      path: at('provider', 'issuer'),
      message: `realm ${name}: the provider has no end_session_endpoint, so signing out ends the Gatehouse session only; the person stays signed in at the provider and the next sign-in is silent`,
      fix: 'enable RP-Initiated Logout at the provider if it offers it, or tell people to sign out of the provider too',
    });
  }
  const responseTypes = stringList(doc.response_types_supported);
  if (responseTypes && !responseTypes.includes('code')) {
    out.push({
      severity: 'error',
      path: at('provider', 'issuer'),
      message: `realm ${name}: the provider does not offer the authorization code flow (response_types_supported: ${responseTypes.join(', ')})`,
    });
  }
  // RFC 7636: the gateway always sends an S256 code challenge
  const pkce = stringList(doc.code_challenge_methods_supported);
  if (pkce && !pkce.includes('S256')) {
    out.push({
      severity: 'warning',
      path: at('provider', 'issuer'),
      message: `realm ${name}: the provider does not advertise PKCE S256 (code_challenge_methods_supported: ${pkce.join(', ') || 'none'}); the gateway sends it anyway`,
    });
  }
  const authMethods = stringList(doc.token_endpoint_auth_methods_supported) ?? ['client_secret_basic']; // OIDC Discovery 3: the default
  if (!authMethods.includes(realm.provider.client_auth)) {
    out.push({
      severity: 'warning',
      path: at('provider', 'client_auth'),
      message: `realm ${name}: the provider does not advertise ${realm.provider.client_auth} (token_endpoint_auth_methods_supported: ${authMethods.join(', ')}); the code exchange will likely fail`,
      fix: `client_auth: ${authMethods.find((m) => m === 'client_secret_basic' || m === 'client_secret_post' || m === 'private_key_jwt') ?? authMethods[0]}`,
    });
  }
  const scopes = stringList(doc.scopes_supported);
  if (scopes) {
    const unknown = realm.provider.scopes.filter((s) => s !== 'openid' && !scopes.includes(s));
    if (unknown.length) {
      out.push({
        severity: 'warning',
        path: at('provider', 'scopes'),
        message: `realm ${name}: the provider does not list the scope(s) ${unknown.join(', ')} in scopes_supported; it may refuse the sign-in (invalid_scope) or ignore them`,
      });
    }
  }
  const claims = stringList(doc.claims_supported);
  if (claims) {
    for (const claim of Object.keys(realm.allow.claims)) {
      if (!claims.includes(claim)) {
        // Providers list standard claims there, rarely custom ones (an Auth0 Action's namespaced claim, a Keycloak mapper): not a sign of failure
        out.push({
          severity: 'info',
          path: at('allow', 'claims', claim),
          message: `realm ${name}: allow.claims needs the claim "${claim}", which the provider does not list in claims_supported. Providers usually list only standard claims there, so this is expected for a custom claim; make sure the provider puts it in the ID token (an Auth0 Action, a Keycloak mapper), or every sign-in to this realm is refused (GH_ALLOW_CLAIM)`,
        });
      }
    }
  }
  return out;
}
