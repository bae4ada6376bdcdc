/**
 * Signing in: starting an attempt (redirect to the provider) and the callback,
 * as an ordered list of named steps. State is compared before the code is
 * redeemed, so a forged callback never spends a code or reaches the token
 * endpoint.
 */
import type { IncomingMessage } from 'node:http';
import type { Gateway } from './gateway.js';
import type { RealmRuntime } from '../config/runtime.js';
import { GatehouseError, type ErrorCode } from '../errors.js';
import { buildAuthorizationUrl } from '../oidc/authorize.js';
import type { ProviderMetadata } from '../oidc/provider.js';
import { verifyIdToken, constantTimeEqual } from '../oidc/id-token.js';
import { redeemCode, fetchUserinfo } from '../oidc/token.js';
import { checkAllowRules } from '../allow/rules.js';
import { identityFromClaims } from '../identity/from-claims.js';
import {
  LOGIN_ATTEMPT_TTL_MS,
  MAX_PARALLEL_ATTEMPTS,
  attemptCookieSuffix,
  newLoginAttempt,
  openLoginAttempt,
  sealLoginAttempt,
  type LoginAttempt,
} from '../session/login-attempt.js';
import { newSessionId, type SessionData } from '../session/session.js';
import { MAX_SESSION_VALUE_LENGTH, saveFittingSession } from '../session/fit.js';
import { clearCookie, setCookie, type CookieJar } from './cookies.js';
import { sessionCookies } from './authenticate.js';
import type { Answer } from './respond.js';

/**
 * Redirect the browser to the provider with a new login attempt of its own.
 * Without a promise when the provider's metadata is fresh (the usual case: a
 * flood of navigations costs a seal each, not a trip through the event loop).
 */
export function startLogin(gw: Gateway, realm: RealmRuntime, returnTo: string, cookies: CookieJar, extraSetCookies: string[] = []): Answer | Promise<Answer> {
  const metadata = realm.provider.readyMetadata();
  if (metadata !== null) return redirectToProvider(gw, realm, metadata, returnTo, cookies, extraSetCookies);
  // discovery not done, or due again: GH_DISCOVERY_* → 503 page
  return realm.provider.ensureReady().then((fresh) => redirectToProvider(gw, realm, fresh, returnTo, cookies, extraSetCookies));
}

function redirectToProvider(gw: Gateway, realm: RealmRuntime, metadata: ProviderMetadata, returnTo: string, cookies: CookieJar, extraSetCookies: string[]): Answer {
  const attempt = newLoginAttempt(realm.name, returnTo, gw.now());
  const secure = gw.runtime.httpsOnly;
  const lines = [...extraSetCookies];
  // a browser that piles up abandoned attempts: drop the extra ones (they would expire anyway)
  const existing = Object.keys(cookies).filter((name) => name.startsWith(realm.attemptCookiePrefix));
  for (const name of existing.slice(0, Math.max(0, existing.length - (MAX_PARALLEL_ATTEMPTS - 1)))) lines.push(clearCookie(name, secure));
  lines.push(setCookie(realm.attemptCookiePrefix + attemptCookieSuffix(attempt.state)!, sealLoginAttempt(attempt, realm.attemptKeys), { secure, maxAge: LOGIN_ATTEMPT_TTL_MS / 1000 }));
  const location = buildAuthorizationUrl(metadata, realm.authorization, attempt);
  return { status: 302, headers: { location, 'set-cookie': lines, 'cache-control': 'no-store' }, body: '' };
}

export interface CallbackOutcome {
  /** 302 to the return-to on success */
  answer?: Answer;
  error?: GatehouseError;
  /** cookies to clear whatever happened (the spent attempt) */
  clear: string[];
  session?: SessionData;
  /** the subject, when the provider vouched for one but the sign-in was refused (audit) */
  sub?: string;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

/** Is this client address over its budget of failed callbacks? */
export function callbackRateLimited(gw: Gateway, ip: string): boolean {
  const entry = gw.failedCallbacks.get(ip);
  return entry !== undefined && entry.resetAt > gw.now() && entry.count >= gw.runtime.limits.failedCallbacksPerMinute;
}

export function countFailedCallback(gw: Gateway, ip: string): void {
  const now = gw.now();
  if (gw.failedCallbacks.size > 10_000) for (const [key, e] of gw.failedCallbacks) if (e.resetAt <= now) gw.failedCallbacks.delete(key);
  const entry = gw.failedCallbacks.get(ip);
  if (!entry || entry.resetAt <= now) gw.failedCallbacks.set(ip, { count: 1, resetAt: now + 60_000 });
  else entry.count++;
}

/** OIDC Core 3.1.2.5 – 3.1.3.7, in order. */
export async function handleCallback(gw: Gateway, realm: RealmRuntime, req: IncomingMessage, query: Record<string, string | string[] | undefined>, cookies: CookieJar): Promise<CallbackOutcome> {
  const secure = gw.runtime.httpsOnly;
  const clear: string[] = [];
  const fail = (code: ErrorCode, detail: string): CallbackOutcome => ({ error: new GatehouseError(code, detail), clear });
  const metadata = await realm.provider.ensureReady();

  // 1. find this browser's login attempt for the state (one cookie per attempt)
  const state = single(query.state);
  if (!state) return fail('GH_STATE_MISSING', 'callback without state');
  const suffix = attemptCookieSuffix(state);
  const cookieName = suffix ? realm.attemptCookiePrefix + suffix : null;
  if (cookieName && cookies[cookieName] !== undefined) clear.push(clearCookie(cookieName, secure));

  // 2. the provider's own refusal (error=access_denied etc.): a clean page, no crash
  const providerError = single(query.error);
  if (providerError !== undefined) {
    const safe = providerError.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 64);
    return fail('GH_CALLBACK_PROVIDER_ERROR', `provider answered error=${safe}`);
  }

  // 3. RFC 9207: the response must name the issuer we sent the browser to
  const iss = single(query.iss);
  if (iss !== undefined ? iss !== metadata.issuer : metadata.authorization_response_iss_parameter_supported) {
    return fail('GH_ISS_MISMATCH', iss === undefined ? 'provider advertises the iss parameter but the response has none' : 'iss parameter names another issuer');
  }

  // 4. state: a login this browser started, for this realm, not expired
  const attempt: LoginAttempt | null = cookieName ? openLoginAttempt(cookies[cookieName], realm.attemptKeys, gw.now()) : null;
  if (!attempt || attempt.realm !== realm.name || !constantTimeEqual(attempt.state, state)) {
    return fail('GH_STATE_MISMATCH', 'no login attempt for this state in this browser');
  }
  // 5. each state works once
  if (!(await gw.spentStates.spend(state, LOGIN_ATTEMPT_TTL_MS))) return fail('GH_STATE_REUSED', 'state already used');

  // 6. redeem the code (PKCE verifier from the attempt)
  const code = single(query.code);
  if (!code || code.length > 4096) return fail('GH_CODE_MISSING', 'callback without a usable code');
  const timeoutMs = 10_000;
  const tokens = await redeemCode(metadata.token_endpoint, realm.credentials, { code, redirectUri: realm.callbackUrl, codeVerifier: attempt.codeVerifier }, timeoutMs);

  // 7. the ID token
  const now = gw.now();
  let claims: Record<string, unknown> = await verifyIdToken(tokens.idToken, {
    getKey: realm.provider.keys('token-endpoint'),
    issuer: metadata.issuer,
    clientId: realm.credentials.clientId,
    algorithms: metadata.id_token_signing_alg_values_supported,
    now,
    clockToleranceSec: gw.runtime.clockToleranceSec,
    nonce: attempt.nonce,
  });
  const sub = claims.sub as string;

  // 8. userinfo, when asked for (its sub must be the ID token's)
  if (realm.userinfo && metadata.userinfo_endpoint && tokens.accessToken) {
    const userinfo = await fetchUserinfo(metadata.userinfo_endpoint, tokens.accessToken, sub, timeoutMs);
    claims = { ...userinfo, ...claims };
  }

  // 9. allow rules
  const refusal = checkAllowRules(realm.allow, claims, realm.claimNames.email);
  if (refusal) return { ...fail(refusal, `sub ${sub} refused by allow rules`), sub };

  // 10. a new session (never a reused id: no session fixation)
  const idTokenExp = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  const session: SessionData = {
    v: 1,
    id: newSessionId(),
    realm: realm.name,
    sub,
    ...identityFromClaims(claims, realm.claimNames, realm.keptClaims),
    createdAt: now,
    seenAt: now,
    idToken: tokens.idToken,
    refreshToken: gw.runtime.refresh ? tokens.refreshToken : undefined,
    tokensExpireAt: tokens.expiresIn !== undefined ? now + tokens.expiresIn * 1000 : idTokenExp,
  };
  // what the browser can send back (session/fit.ts): without the ID token if need be, refused if still too large
  const fitted = await saveFittingSession(gw.store, gw.log, realm, session, gw.runtime.times.lifetimeMs);
  if (fitted.kind === 'too-large') {
    return { ...fail('GH_TOKEN_RESPONSE_INVALID', `the session would be ${fitted.length} characters, more than the ${MAX_SESSION_VALUE_LENGTH} a browser sends back (claims too large)`), sub };
  }
  const lines = [...clear, ...sessionCookies(gw, realm, fitted.value, cookies)];
  return { answer: { status: 302, headers: { location: attempt.returnTo, 'set-cookie': lines, 'cache-control': 'no-store' }, body: '' }, clear, session: fitted.session };
}
