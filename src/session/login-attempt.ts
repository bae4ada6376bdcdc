/**
 * A login attempt: state, nonce, PKCE verifier and where to return, sealed into
 * a short-lived cookie of its own, named after the state. Several tabs can sign
 * in at once without "state mismatch" (one cookie per attempt, not one per
 * browser), and a callback whose state has no cookie in this browser is refused
 * (login CSRF). Each state is spent once, remembered until the attempt expires.
 */
import { createHash } from 'node:crypto';
import { open, seal, type SealKey } from './codec.js';
import { randomText } from './random.js';

export const LOGIN_ATTEMPT_TTL_MS = 10 * 60_000;
/** more attempt cookies than this in one browser: the extra ones are cleared */
export const MAX_PARALLEL_ATTEMPTS = 6;

export interface LoginAttempt {
  v: 1;
  realm: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  createdAt: number;
  /** the callback already used this attempt: kept (without its secrets) only to say so on a reload */
  spent?: true;
}

const random = (): string => randomText(32);

export function newLoginAttempt(realm: string, returnTo: string, now: number): LoginAttempt {
  return { v: 1, realm, state: random(), nonce: random(), codeVerifier: random(), returnTo, createdAt: now };
}

export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** The cookie's name carries part of the state so the callback finds its own attempt. */
export function attemptCookieSuffix(state: string): string | null {
  return /^[A-Za-z0-9_-]{43}$/.test(state) ? state.slice(0, 20) : null;
}

/**
 * What stays in the browser once the callback has used an attempt: where it
 * was going, no nonce and no PKCE verifier, so a reload of the callback URL can
 * be told "already used" (or taken where it was going) and can never redeem
 * the code again, even at an instance that does not share the spent states.
 */
export function spentLoginAttempt(attempt: LoginAttempt): LoginAttempt {
  return { ...attempt, nonce: '', codeVerifier: '', spent: true };
}

export function sealLoginAttempt(attempt: LoginAttempt, keys: readonly SealKey[]): string {
  return seal(attempt, keys);
}

export function openLoginAttempt(value: string | undefined, keys: readonly SealKey[], now: number): LoginAttempt | null {
  const attempt = open<Partial<LoginAttempt>>(value, keys);
  if (
    attempt?.v !== 1 ||
    typeof attempt.realm !== 'string' ||
    typeof attempt.state !== 'string' ||
    typeof attempt.nonce !== 'string' ||
    typeof attempt.codeVerifier !== 'string' ||
    typeof attempt.returnTo !== 'string' ||
    typeof attempt.createdAt !== 'number' ||
    (attempt.spent !== undefined && attempt.spent !== true)
  ) {
    return null;
  }
  if (now - attempt.createdAt > LOGIN_ATTEMPT_TTL_MS || attempt.createdAt > now + 60_000) return null;
  return attempt as LoginAttempt;
}

/** Remembers spent states so a callback URL works once. */
export interface SpentStates {
  /** true if the state was not spent before (and is now) */
  spend(state: string, ttlMs: number): Promise<boolean>;
}

export class MemorySpentStates implements SpentStates {
  private readonly spent = new Map<string, number>();
  constructor(
    private readonly now: () => number = Date.now,
    private readonly max = 100_000,
  ) {}

  async spend(state: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const until = this.spent.get(state);
    if (until !== undefined && until > now) return false;
    if (this.spent.size >= this.max) {
      for (const [key, expiry] of this.spent) if (expiry <= now) this.spent.delete(key);
      // still full of live entries: forget the oldest rather than grow without bound
      if (this.spent.size >= this.max) {
        const oldest = this.spent.keys().next();
        if (!oldest.done) this.spent.delete(oldest.value);
      }
    }
    this.spent.set(state, now + ttlMs);
    return true;
  }
}
