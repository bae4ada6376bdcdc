/**
 * The realm's allow rules: who the provider may sign in but the helpdesk must
 * not see. Compiled once per config load; checked at sign-in and again on the
 * first request after a reload.
 */
import type { AllowConfig } from '../config/types.js';
import type { ErrorCode } from '../errors.js';

export interface AllowRules {
  emailDomains: ReadonlySet<string> | null;
  allowUnverifiedEmail: boolean;
  claims: ReadonlyArray<readonly [string, ReadonlySet<string>]>;
}

export function compileAllowRules(config: AllowConfig): AllowRules {
  return {
    emailDomains: config.email_domains.length > 0 ? new Set(config.email_domains.map((d) => d.toLowerCase().replace(/^@/, ''))) : null,
    allowUnverifiedEmail: config.allow_unverified_email,
    claims: Object.entries(config.claims).map(([name, value]) => [name, new Set(Array.isArray(value) ? value : [value])] as const),
  };
}

/** The claim names the rules look at (kept in the session so rules can be re-checked). */
export function claimsUsedBy(rules: AllowRules, emailClaim: string): string[] {
  const names = new Set<string>();
  if (rules.emailDomains) {
    names.add(emailClaim);
    names.add('email_verified');
  }
  for (const [name] of rules.claims) names.add(name);
  return [...names];
}

function claimValues(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string | number | boolean => ['string', 'number', 'boolean'].includes(typeof v)).map(String);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return [String(value)];
  return [];
}

/** null when allowed, else the reason code. */
export function checkAllowRules(rules: AllowRules, claims: Readonly<Record<string, unknown>>, emailClaim: string): ErrorCode | null {
  if (rules.emailDomains) {
    const email = claims[emailClaim];
    const at = typeof email === 'string' ? email.lastIndexOf('@') : -1;
    if (typeof email !== 'string' || at < 1 || !rules.emailDomains.has(email.slice(at + 1).toLowerCase())) return 'GH_ALLOW_EMAIL_DOMAIN';
    // OIDC Core 5.1: without email_verified the address may belong to anyone who typed it
    if (!rules.allowUnverifiedEmail && claims.email_verified !== true) return 'GH_ALLOW_EMAIL_UNVERIFIED';
  }
  for (const [name, accepted] of rules.claims) {
    if (!claimValues(claims[name]).some((v) => accepted.has(v))) return 'GH_ALLOW_CLAIM';
  }
  return null;
}
