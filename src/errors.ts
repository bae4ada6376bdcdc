/**
 * Every refusal Gatehouse can answer with, as one closed union of codes.
 * The same code appears in the log line, the metric label, the page or JSON
 * the person sees, and docs/errors.md (a test keeps that file in step).
 * Three things stay apart: the code (stable), the message (safe to show),
 * and the detail (logs only; may name internals, never secrets).
 */

export const ERROR_CODES = {
  // configuration
  GH_CONFIG_INVALID: { status: 500, message: 'The gateway configuration is invalid.' },
  // request shape
  GH_BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  GH_BAD_PATH: { status: 400, message: 'The request path is not allowed.' },
  GH_AMBIGUOUS_PATH: { status: 400, message: 'The request path can be read in more than one way and is not allowed.' },
  GH_URL_TOO_LONG: { status: 414, message: 'The request URL is too long.' },
  GH_BODY_TIMEOUT: { status: 408, message: 'The request took too long to arrive. Try again.' },
  GH_MISDIRECTED_REQUEST: { status: 421, message: 'This address is not served here. Use the address you were given for the helpdesk.' },
  GH_NOT_FOUND: { status: 404, message: 'There is nothing here.' },
  GH_METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed here.' },
  GH_UNKNOWN_REALM: { status: 404, message: 'There is no such realm.' },
  GH_REALM_REQUIRED: { status: 400, message: 'Say which side of the helpdesk you mean: add ?realm= and its name to the address.' },
  GH_RATE_LIMITED: { status: 429, message: 'Too many failed sign-in attempts. Wait a minute and try again.' },
  GH_CSRF: { status: 403, message: 'This request did not come from this site.' },
  GH_HTTPS_REQUIRED: { status: 403, message: 'This address only works over HTTPS.' },
  // forward-auth: the proxy in front asks about a request (flows/forward-auth.ts)
  GH_FORWARD_AUTH_UNTRUSTED: { status: 403, message: 'Only the proxy in front of the helpdesk may ask this.' },
  GH_FORWARD_AUTH_INCOMPLETE: { status: 400, message: 'The proxy did not say which request to check.' },
  GH_FORWARD_AUTH_RESERVED: { status: 403, message: 'This address belongs to the sign-in gateway, and the proxy sent it to the helpdesk instead.' },
  // not signed in / not allowed
  GH_NOT_SIGNED_IN: { status: 401, message: 'Sign-in required.' },
  GH_ALLOW_EMAIL_DOMAIN: { status: 403, message: 'Your account is not allowed here (email domain).' },
  GH_ALLOW_EMAIL_UNVERIFIED: { status: 403, message: 'Your account is not allowed here (email address not verified).' },
  GH_ALLOW_CLAIM: { status: 403, message: 'Your account is not allowed here (missing group or claim).' },
  GH_ADMIN_UNAUTHORIZED: { status: 401, message: 'Admin credential missing or wrong.' },
  // authorization response
  GH_CALLBACK_PROVIDER_ERROR: { status: 400, message: 'The sign-in provider refused the sign-in.' },
  GH_CALLBACK_CANCELLED: { status: 400, message: 'The sign-in was cancelled at the sign-in provider, so you are not signed in.' },
  GH_STATE_MISSING: { status: 400, message: 'The sign-in response is incomplete. Please sign in again.' },
  GH_STATE_MISMATCH: { status: 400, message: 'This sign-in was not started in this browser, or it has expired. Please sign in again.' },
  GH_STATE_REUSED: { status: 400, message: 'This sign-in link was already used: each one works only once.' },
  GH_CODE_MISSING: { status: 400, message: 'The sign-in response has no authorization code.' },
  GH_ISS_MISMATCH: { status: 400, message: 'The sign-in response came from an unexpected provider.' },
  // provider
  GH_DISCOVERY_FAILED: { status: 503, message: 'The sign-in provider cannot be reached right now.' },
  GH_DISCOVERY_ISSUER_MISMATCH: { status: 503, message: 'The sign-in provider is misconfigured (issuer mismatch).' },
  GH_TOKEN_REQUEST_FAILED: { status: 502, message: 'The sign-in provider did not complete the sign-in.' },
  GH_TOKEN_RESPONSE_INVALID: { status: 502, message: 'The sign-in provider sent an invalid answer.' },
  GH_USERINFO_FAILED: { status: 502, message: 'The sign-in provider did not return your profile.' },
  GH_USERINFO_SUB_MISMATCH: { status: 502, message: 'The sign-in provider returned a profile for someone else.' },
  GH_JWKS_UNAVAILABLE: { status: 503, message: "The sign-in provider's keys cannot be fetched right now. Try again in a moment." },
  // ID token and logout token checks
  GH_ID_TOKEN_MALFORMED: { status: 502, message: 'The sign-in provider sent an invalid identity token.' },
  GH_ID_TOKEN_ALG: { status: 502, message: 'The identity token uses a signature algorithm that is not allowed.' },
  GH_ID_TOKEN_SIGNATURE: { status: 502, message: 'The identity token signature is invalid.' },
  GH_ID_TOKEN_KID_UNKNOWN: { status: 502, message: 'The identity token was signed with an unknown key.' },
  GH_ID_TOKEN_KID_AMBIGUOUS: { status: 502, message: 'The identity token does not say which key signed it.' },
  GH_ID_TOKEN_ISSUER: { status: 502, message: 'The identity token comes from an unexpected issuer.' },
  GH_ID_TOKEN_AUDIENCE: { status: 502, message: 'The identity token is not meant for this gateway.' },
  GH_ID_TOKEN_AZP: { status: 502, message: 'The identity token names another authorized party.' },
  GH_ID_TOKEN_CLAIM_MISSING: { status: 502, message: 'The identity token lacks a required claim.' },
  GH_ID_TOKEN_EXPIRED: { status: 502, message: 'The identity token has expired.' },
  GH_ID_TOKEN_NOT_YET_VALID: { status: 502, message: 'The identity token is not valid yet.' },
  GH_ID_TOKEN_IAT_FUTURE: { status: 502, message: 'The identity token was issued in the future.' },
  GH_ID_TOKEN_NONCE: { status: 502, message: 'The identity token does not belong to this sign-in.' },
  GH_ID_TOKEN_SUB_CHANGED: { status: 502, message: 'The renewed identity token names someone else.' },
  GH_LOGOUT_TOKEN_INVALID: { status: 400, message: 'The logout token is invalid.' },
  GH_LOGOUT_TOKEN_REPLAYED: { status: 400, message: 'The logout token was already used.' },
  // sessions and stores
  GH_SESSION_STORE_UNAVAILABLE: { status: 503, message: 'Sessions are unavailable right now. Try again in a moment.' },
  GH_REFRESH_UNAVAILABLE: {
    status: 503,
    message: 'Your sign-in cannot be renewed right now because the sign-in provider does not answer. Try again in a moment.',
  },
  GH_FORM_NOT_PRESERVED: {
    status: 401,
    message: 'Your session ended before this form was sent, and the form could not be kept. Go back, copy what you typed, then sign in again.',
  },
  // upstream
  GH_UPSTREAM_UNAVAILABLE: { status: 502, message: 'The helpdesk cannot be reached right now.' },
  GH_UPSTREAM_TIMEOUT: { status: 504, message: 'The helpdesk did not answer in time.' },
  GH_INTERNAL: { status: 500, message: 'Something went wrong in the gateway.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** true only below 500: the message may be shown as is */
  readonly expose: boolean;
  /** for logs only: may name internals, never a secret */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; status?: number }) {
    const spec = ERROR_CODES[code];
    super(spec.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.status = options?.status ?? spec.status;
    this.expose = this.status < 500;
    this.detail = detail;
  }
}

export function isGatehouseError(value: unknown): value is GatehouseError {
  return value instanceof GatehouseError;
}

/** Raised by config loading; carries every problem at once. */
export class ConfigError extends Error {
  readonly problems: import('./config/types.js').ConfigProblem[];
  constructor(problems: import('./config/types.js').ConfigProblem[]) {
    super(`${problems.filter((p) => p.severity === 'error').length} configuration problem(s)`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
