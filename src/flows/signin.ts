/**
 * Signing in: starting an attempt (redirect to the provider) and the callback,
 * as an ordered list of named steps. State is compared before the code is
 * redeemed, so a forged callback never spends a code or reaches the token
 * endpoint.
 */
import type { Gateway } from '../gateway.js';
import type { RealmRuntime } from '../runtime.js';
import { GatehouseError, isGatehouseError } from '../errors.js';
import { buildAuthorizationUrl } from '../oidc/authorize.js';
import type { ProviderMetadata } from '../oidc/provider.js';
import { verifyIdToken, constantTimeEqual } from '../oidc/id-token.js';
import { TOKEN_REQUEST_TIMEOUT_MS, redeemCode, fetchUserinfo, type TokenSet } from '../oidc/token.js';
import { checkAllowRules } from '../allow/rules.js';
import { identityFromClaims, stringClaim } from '../identity/from-claims.js';
import {
  LOGIN_ATTEMPT_TTL_MS,
  MAX_PARALLEL_ATTEMPTS,
  attemptCookieSuffix,
  newLoginAttempt,
  openLoginAttempt,
  sealLoginAttempt,
  spentLoginAttempt,
  type LoginAttempt,
} from '../session/login-attempt.js';
import { newSessionId, type SessionData } from '../session/session.js';
import { MAX_SESSION_VALUE_LENGTH, saveFittingSession } from '../session/fit.js';
import { clearCookie, setCookie, type CookieJar } from '../edge/cookies.js';
import { authenticate, sessionCookies } from './authenticate.js';
import type { Answer } from '../edge/respond.js';
import type { AccountShown } from '../edge/pages/pages.js';

/**
 * Redirect the browser to the provider with a new login attempt of its own.
 * Without a promise when the provider's metadata is fresh (the usual case: a
 * flood of navigations costs a seal each, not a trip through the event loop).
 */
export function startLogin(
  gw: Gateway,
  realm: RealmRuntime,
  returnTo: string,
  cookies: CookieJar,
  extraSetCookies: string[] = [],
  options: LoginOptions = {},
): Answer | Promise<Answer> {
  const metadata = realm.provider.readyMetadata();
  if (metadata !== null) return redirectToProvider(gw, realm, metadata, returnTo, cookies, extraSetCookies, options);
  // discovery not done, or due again: GH_DISCOVERY_* → 503 page
  return realm.provider.ensureReady().then((fresh) => redirectToProvider(gw, realm, fresh, returnTo, cookies, extraSetCookies, options));
}

export interface LoginOptions {
  /** the person wants another account than the one the provider would sign in silently */
  chooseAccount?: boolean;
}

/**
 * OIDC Core 3.1.2.1 prompt: select_account where the provider says it knows it
 * (its account chooser), otherwise login, which every provider knows (it asks
 * for credentials again instead of reusing its session).
 */
export function accountChoicePrompt(metadata: ProviderMetadata): 'select_account' | 'login' {
  return metadata.prompt_values_supported?.includes('select_account') ? 'select_account' : 'login';
}

function redirectToProvider(
  gw: Gateway,
  realm: RealmRuntime,
  metadata: ProviderMetadata,
  returnTo: string,
  cookies: CookieJar,
  extraSetCookies: string[],
  options: LoginOptions,
): Answer {
  const attempt = newLoginAttempt(realm.name, returnTo, gw.now());
  const secure = gw.runtime.httpsOnly;
  const lines = [...extraSetCookies];
  // a browser that piles up abandoned attempts: drop the extra ones (they would expire anyway)
  const existing = Object.keys(cookies).filter((name) => name.startsWith(realm.attemptCookiePrefix));
  for (const name of existing.slice(0, Math.max(0, existing.length - (MAX_PARALLEL_ATTEMPTS - 1)))) lines.push(clearCookie(name, secure));
  lines.push(
    setCookie(realm.attemptCookiePrefix + attemptCookieSuffix(attempt.state)!, sealLoginAttempt(attempt, realm.attemptKeys), {
      secure,
      maxAge: LOGIN_ATTEMPT_TTL_MS / 1000,
    }),
  );
  let location = buildAuthorizationUrl(metadata, realm.authorization, attempt);
  if (options.chooseAccount) {
    const url = new URL(location);
    url.searchParams.set('prompt', accountChoicePrompt(metadata)); // replaces one from extra_auth_params
    location = url.href;
  }
  return { status: 302, headers: { location, 'set-cookie': lines, 'cache-control': 'no-store' }, body: '' };
}

/** How a callback ended: signed in, sent on because it already was, or refused (the page says why and what next). */
export type CallbackOutcome =
  | { kind: 'signed-in'; answer: Answer; session: SessionData }
  /** a used callback URL again (a reload, the back button) in a browser that is signed in: on to where it was going */
  | { kind: 'already-signed-in'; answer: Answer }
  | {
      kind: 'failed';
      error: GatehouseError;
      /** the step that refused (CALLBACK_STEPS), for the log */
      step: string;
      /** Set-Cookie lines whatever happened: the attempt cleared, or kept as spent */
      setCookies: string[];
      /** where a new attempt should lead: where this one was going, when it is known */
      returnTo: string;
      /** the subject, when the provider vouched for one but the sign-in was refused (audit) */
      sub?: string | undefined;
      /** who the provider signed in, when the allow rules refused them */
      account?: AccountShown | undefined;
    };

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

/** Is this client address over its budget of failed callbacks? */
export function callbackRateLimited(gw: Gateway, ip: string): boolean {
  return gw.failedCallbacks.isLimited(ip, gw.runtime.limits.failedCallbacksPerMinute, gw.now());
}

export function countFailedCallback(gw: Gateway, ip: string): void | Promise<void> {
  return gw.failedCallbacks.count(ip, gw.now());
}

/** Is this browser signed in to the realm already? (A store that does not answer counts as no.) */
async function signedInHere(gw: Gateway, realm: RealmRuntime, cookies: CookieJar): Promise<boolean> {
  try {
    return (await authenticate(gw, realm, cookies)).kind === 'signed-in';
  } catch {
    return false;
  }
}

function redirectTo(location: string, setCookies: string[]): Answer {
  return { status: 302, headers: { location, 'set-cookie': setCookies, 'cache-control': 'no-store' }, body: '' };
}

/** What the callback's steps read and learn, in one place: each step reads what the ones before it set. */
interface CallbackContext {
  readonly gw: Gateway;
  readonly realm: RealmRuntime;
  readonly query: Record<string, string | string[] | undefined>;
  readonly cookies: CookieJar;
  readonly metadata: ProviderMetadata;
  /** Set-Cookie lines whatever happens: the attempt cleared, or kept as spent */
  setCookies: string[];
  /** where the browser goes next: where the attempt was going, once it is known */
  returnTo: string;
  state?: string;
  cookieName?: string | null;
  attempt?: LoginAttempt | null;
  tokens?: TokenSet & { idToken: string };
  /** the gateway's clock when the ID token was checked: the session's creation time */
  now?: number;
  claims?: Record<string, unknown>;
  /** the subject, once the provider vouched for one (audit) */
  sub?: string;
  /** who the provider signed in, when the allow rules refused them */
  account?: AccountShown;
}

/**
 * One step of the callback. It refuses by throwing (a GatehouseError with its
 * code: the one error channel, whatever the step), finishes the callback early
 * by returning an outcome, or returns nothing to go on to the next step.
 */
type CallbackStep = (ctx: CallbackContext) => CallbackOutcome | undefined | Promise<CallbackOutcome | undefined>;

/** 1. find this browser's login attempt for the state (one cookie per attempt) */
const findAttempt: CallbackStep = (ctx) => {
  const { gw, realm, cookies } = ctx;
  const state = single(ctx.query.state);
  if (!state) throw new GatehouseError('GH_STATE_MISSING', 'callback without state');
  const suffix = attemptCookieSuffix(state);
  const cookieName = suffix ? realm.attemptCookiePrefix + suffix : null;
  const opened: LoginAttempt | null = cookieName ? openLoginAttempt(cookies[cookieName], realm.attemptKeys, gw.now()) : null;
  // the attempt only counts when it is this realm's and its state is this one (compared in constant time)
  const attempt = opened && opened.realm === realm.name && constantTimeEqual(opened.state, state) ? opened : null;
  if (attempt) ctx.returnTo = attempt.returnTo;
  if (cookieName && cookies[cookieName] !== undefined && !attempt?.spent) ctx.setCookies = [clearCookie(cookieName, gw.runtime.httpsOnly)];
  Object.assign(ctx, { state, cookieName, attempt });
  return undefined;
};

/** 2. the provider's own refusal: a clean page, no crash; Cancel at the provider is access_denied (RFC 6749 4.1.2.1) */
const providerRefusal: CallbackStep = (ctx) => {
  const providerError = single(ctx.query.error);
  if (providerError === undefined) return undefined;
  const safe = providerError.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 64);
  throw new GatehouseError(safe === 'access_denied' ? 'GH_CALLBACK_CANCELLED' : 'GH_CALLBACK_PROVIDER_ERROR', `provider answered error=${safe}`);
};

/** 3. RFC 9207: the response must name the issuer we sent the browser to */
const issuerNamed: CallbackStep = (ctx) => {
  const iss = single(ctx.query.iss);
  if (iss !== undefined ? iss !== ctx.metadata.issuer : ctx.metadata.authorization_response_iss_parameter_supported) {
    throw new GatehouseError(
      'GH_ISS_MISMATCH',
      iss === undefined ? 'provider advertises the iss parameter but the response has none' : 'iss parameter names another issuer',
    );
  }
  return undefined;
};

/** A used callback again (a reload, the back button) in a browser that is signed in: on to where it was going; otherwise refused. */
async function alreadySignedInOr(ctx: CallbackContext, refusal: GatehouseError): Promise<CallbackOutcome> {
  if (await signedInHere(ctx.gw, ctx.realm, ctx.cookies)) return { kind: 'already-signed-in', answer: redirectTo(ctx.returnTo, ctx.setCookies) };
  throw refusal;
}

/** 4. state: a login this browser started, for this realm, not expired — or one it already finished */
const stateOfThisBrowser: CallbackStep = async (ctx) => {
  const { gw, realm, attempt } = ctx;
  if (!attempt) return alreadySignedInOr(ctx, new GatehouseError('GH_STATE_MISMATCH', 'no login attempt for this state in this browser'));
  if (attempt.spent) return alreadySignedInOr(ctx, new GatehouseError('GH_STATE_REUSED', 'the attempt for this state was already used in this browser'));
  // from here on the attempt stays in the browser as spent (no secrets), so a reload is told what happened
  const remainingSec = Math.max(1, (LOGIN_ATTEMPT_TTL_MS - (gw.now() - attempt.createdAt)) / 1000);
  ctx.setCookies = [
    setCookie(ctx.cookieName!, sealLoginAttempt(spentLoginAttempt(attempt), realm.attemptKeys), { secure: gw.runtime.httpsOnly, maxAge: remainingSec }),
  ];
  return undefined;
};

/** 5. each state works once, across the gateway's instances */
const stateSpentOnce: CallbackStep = async (ctx) => {
  if (await ctx.gw.spentStates.spend(ctx.state!, LOGIN_ATTEMPT_TTL_MS)) return undefined;
  return alreadySignedInOr(ctx, new GatehouseError('GH_STATE_REUSED', 'state already used'));
};

/** 6. redeem the code (PKCE verifier from the attempt) */
const redeem: CallbackStep = async (ctx) => {
  const code = single(ctx.query.code);
  if (!code || code.length > 4096) throw new GatehouseError('GH_CODE_MISSING', 'callback without a usable code');
  const { realm } = ctx;
  ctx.tokens = await redeemCode(
    ctx.metadata.token_endpoint,
    realm.credentials,
    { code, redirectUri: realm.callbackUrl, codeVerifier: ctx.attempt!.codeVerifier },
    TOKEN_REQUEST_TIMEOUT_MS,
  );
  return undefined;
};

/** 7. the ID token */
const idToken: CallbackStep = async (ctx) => {
  const { gw, realm, metadata } = ctx;
  ctx.now = gw.now();
  ctx.claims = await verifyIdToken(ctx.tokens!.idToken, {
    getKey: realm.provider.keys('token-endpoint'),
    issuer: metadata.issuer,
    clientId: realm.credentials.clientId,
    algorithms: metadata.id_token_signing_alg_values_supported,
    now: ctx.now,
    clockToleranceSec: gw.runtime.clockToleranceSec,
    nonce: ctx.attempt!.nonce,
  });
  ctx.sub = ctx.claims.sub as string;
  return undefined;
};

/** 8. userinfo, when asked for (its sub must be the ID token's) */
const userinfo: CallbackStep = async (ctx) => {
  const { metadata, tokens } = ctx;
  if (!ctx.realm.userinfo || !metadata.userinfo_endpoint || !tokens!.accessToken) return undefined;
  const profile = await fetchUserinfo(metadata.userinfo_endpoint, tokens!.accessToken, ctx.sub!, TOKEN_REQUEST_TIMEOUT_MS);
  ctx.claims = { ...profile, ...ctx.claims };
  return undefined;
};

/** 9. allow rules */
const allowRules: CallbackStep = (ctx) => {
  const { realm } = ctx;
  const claims = ctx.claims!;
  const refusal = checkAllowRules(realm.allow, claims, realm.claimNames.email);
  if (!refusal) return undefined;
  ctx.account = { email: stringClaim(claims[realm.claimNames.email]), name: stringClaim(claims[realm.claimNames.name]) };
  throw new GatehouseError(refusal, `sub ${ctx.sub} refused by allow rules`);
};

/** 10. a new session (never a reused id: no session fixation), in what the browser can send back (session/fit.ts) */
const newSession: CallbackStep = async (ctx) => {
  const { gw, realm, tokens } = ctx;
  const claims = ctx.claims!;
  const now = ctx.now!;
  const idTokenExp = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  const session: SessionData = {
    v: 1,
    id: newSessionId(),
    realm: realm.name,
    sub: ctx.sub!,
    ...identityFromClaims(claims, realm.claimNames, realm.keptClaims),
    createdAt: now,
    seenAt: now,
    idToken: tokens!.idToken,
    refreshToken: gw.runtime.refresh ? tokens!.refreshToken : undefined,
    tokensExpireAt: tokens!.expiresIn !== undefined ? now + tokens!.expiresIn * 1000 : idTokenExp,
  };
  // without the ID token if need be, refused if still too large
  const fitted = await saveFittingSession(gw.store, gw.log, realm, session, gw.runtime.times.lifetimeMs);
  if (fitted.kind === 'too-large') {
    throw new GatehouseError(
      'GH_TOKEN_RESPONSE_INVALID',
      `the session would be ${fitted.length} characters, more than the ${MAX_SESSION_VALUE_LENGTH} a browser sends back (claims too large)`,
    );
  }
  return {
    kind: 'signed-in',
    answer: redirectTo(ctx.attempt!.returnTo, [...ctx.setCookies, ...sessionCookies(gw, realm, fitted.value, ctx.cookies)]),
    session: fitted.session,
  };
};

/**
 * OIDC Core 3.1.2.5 – 3.1.3.7, in order. State is compared (4, 5) before the
 * code is redeemed (6), so a forged callback never spends a code.
 */
const CALLBACK_STEPS: ReadonlyArray<readonly [name: string, step: CallbackStep]> = [
  ['find-attempt', findAttempt],
  ['provider-refusal', providerRefusal],
  ['issuer', issuerNamed],
  ['state', stateOfThisBrowser],
  ['state-once', stateSpentOnce],
  ['redeem-code', redeem],
  ['id-token', idToken],
  ['userinfo', userinfo],
  ['allow-rules', allowRules],
  ['new-session', newSession],
];

/** The callback, step by step. Never throws: every refusal, whichever step made it, is a `failed` outcome. */
export async function handleCallback(
  gw: Gateway,
  realm: RealmRuntime,
  query: Record<string, string | string[] | undefined>,
  cookies: CookieJar,
): Promise<CallbackOutcome> {
  let ctx: CallbackContext | null = null;
  let current = 'discovery';
  try {
    ctx = { gw, realm, query, cookies, metadata: await realm.provider.ensureReady(), setCookies: [], returnTo: realm.paths[0] ?? '/' };
    for (const [name, step] of CALLBACK_STEPS) {
      current = name;
      const finished = await step(ctx);
      if (finished !== undefined) return finished;
    }
    throw new Error('the callback steps ended without an outcome');
  } catch (error) {
    const gh = isGatehouseError(error) ? error : new GatehouseError('GH_INTERNAL', (error as Error).message, { cause: error });
    return {
      kind: 'failed',
      error: gh,
      step: current,
      setCookies: ctx?.setCookies ?? [],
      returnTo: ctx?.returnTo ?? realm.paths[0] ?? '/',
      sub: ctx?.sub,
      account: ctx?.account,
    };
  }
}
