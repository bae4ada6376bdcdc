/**
 * What instances must agree on besides sessions and revocations: single-use
 * values (login states, logout-token jti) and the refresh lock with its
 * published outcome. Keys are hashes: Redis never sees a state, a jti or a
 * refresh token, and outcomes arrive sealed (session/refresh.ts). Every
 * command (the unlock script too) names one key: Cluster-safe as it is.
 */
import { createHash, randomBytes } from 'node:crypto';
import { KEY_PREFIX, type RedisLink } from './link.js';
import type { SpentStates } from '../login-attempt.js';
import type { RefreshCoordination } from '../refresh.js';

const hashed = (value: string): string => createHash('sha256').update(value).digest('base64url');

/** Compare-and-delete: only the holder releases a lock (it may have expired and been taken by another). */
const UNLOCK_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class RedisSpentStates implements SpentStates {
  constructor(private readonly link: RedisLink) {}

  /** SET NX: exactly one instance sees true for a value, even when two ask at the same moment. */
  async spend(state: string, ttlMs: number): Promise<boolean> {
    const result = await this.link.run('spend', (c) => c.set(`${KEY_PREFIX}spent:${hashed(state)}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'));
    return result === 'OK';
  }
}

export class RedisRefreshCoordination implements RefreshCoordination {
  constructor(private readonly link: RedisLink) {}

  async tryLock(key: string, ttlMs: number): Promise<string | null> {
    const token = randomBytes(16).toString('base64url');
    const result = await this.link.run('refresh lock', (c) => c.set(`${KEY_PREFIX}refresh-lock:${key}`, token, 'PX', ttlMs, 'NX'));
    return result === 'OK' ? token : null;
  }

  async unlock(key: string, lockToken: string): Promise<void> {
    await this.link.run('refresh unlock', (c) => c.eval(UNLOCK_SCRIPT, 1, `${KEY_PREFIX}refresh-lock:${key}`, lockToken));
  }

  recall(key: string): Promise<string | null> {
    return this.link.run('refresh recall', (c) => c.get(`${KEY_PREFIX}refresh-result:${key}`));
  }

  async remember(key: string, sealed: string, ttlMs: number): Promise<void> {
    await this.link.run('refresh remember', (c) => c.set(`${KEY_PREFIX}refresh-result:${key}`, sealed, 'PX', ttlMs));
  }
}
