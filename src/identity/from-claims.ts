/**
 * The identity a session carries, taken from the provider's claims: at sign-in,
 * and again after every refresh (so what the helpdesk sees follows the
 * provider, not the sign-in). One function for both, so a refresh can never
 * read a claim differently from the sign-in.
 */

export interface ClaimNames {
  readonly email: string;
  readonly name: string;
  readonly groups: string;
}

export interface SessionIdentity {
  email: string | undefined;
  name: string | undefined;
  groups: string[] | undefined;
  /** the provider's session id (`sid`), for back-channel logout */
  sid: string | undefined;
  /** the claims the allow rules look at, kept so they can be re-checked after a reload */
  claims: Record<string, unknown>;
}

export function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function groupsClaim(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string').slice(0, 200);
  if (typeof value === 'string' && value.length > 0)
    return value
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
  return undefined;
}

export function identityFromClaims(claims: Readonly<Record<string, unknown>>, names: ClaimNames, keptClaims: readonly string[]): SessionIdentity {
  const kept: Record<string, unknown> = {};
  for (const name of keptClaims) if (claims[name] !== undefined) kept[name] = claims[name];
  return {
    email: stringClaim(claims[names.email]),
    name: stringClaim(claims[names.name]),
    groups: groupsClaim(claims[names.groups]),
    sid: stringClaim(claims.sid),
    claims: kept,
  };
}
