/**
 * The gateway's connection to Redis (ioredis): one connection for commands and
 * one for publish/subscribe, both reconnecting by themselves, forever, with a
 * capped backoff. Commands never wait for a connection that is not there: no
 * offline queue, no retry of a command, a short command timeout — so when Redis
 * is down or hangs, a request fails within about a second with
 * GH_SESSION_STORE_UNAVAILABLE (503) instead of piling up. The connection is
 * logged once when lost and once when back, never with the URL's password.
 */
import { Redis } from 'ioredis';
import { GatehouseError } from '../../errors.js';
import type { Logger } from '../../observe/log.js';

/** every key and channel Gatehouse uses starts with this */
export const KEY_PREFIX = 'gatehouse:';
const COMMAND_TIMEOUT_MS = 1000;
const CONNECT_TIMEOUT_MS = 2000;
const MAX_RECONNECT_DELAY_MS = 2000;

/** host:port/db of a redis URL, for logs: never the credentials */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(unparseable redis_url)';
  }
}

export class RedisLink {
  readonly client: Redis;
  readonly subscriber: Redis;
  private readonly readyListeners: Array<() => void> = [];
  private readonly where: string;
  private up = false;
  /** the last command failed (see healthy) */
  private suspect = false;
  private closed = false;

  constructor(url: string, private readonly log: Logger) {
    this.where = describeRedisUrl(url);
    const common = {
      connectTimeout: CONNECT_TIMEOUT_MS,
      // reconnect forever: the gateway recovers by itself when Redis is back
      retryStrategy: (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
      enableReadyCheck: true,
    };
    // fail fast: a command while disconnected rejects at once instead of queueing
    this.client = new Redis(url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: COMMAND_TIMEOUT_MS });
    // the subscriber re-subscribes by itself after a reconnect. No ready check: its INFO would race
    // a SUBSCRIBE already sent and fail ("only subscriber commands may be used"), dropping the connection
    this.subscriber = new Redis(url, { ...common, enableReadyCheck: false, enableOfflineQueue: true, autoResubscribe: true, maxRetriesPerRequest: null });
    for (const connection of [this.client, this.subscriber]) {
      connection.on('ready', () => this.onConnectionReady());
      connection.on('error', (error: Error) => this.onConnectionLost(error.message));
      connection.on('close', () => this.onConnectionLost('connection closed'));
    }
  }

  /** true while commands can be sent */
  get ready(): boolean {
    return !this.closed && this.client.status === 'ready';
  }

  /**
   * Ready, and the last command did not fail. A command can fail (timeout, a
   * server that stopped answering) before the client notices the connection is
   * gone; until a command succeeds again, nothing may be served from caches.
   */
  get healthy(): boolean {
    return this.ready && !this.suspect;
  }

  /** Called after every (re)connect of either connection: resynchronise what may have been missed. */
  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  /** Wait (bounded) for the first connection; false if Redis does not answer in time. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    if (this.ready) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.client.once('ready', onReady);
    });
  }

  unavailable(detail: string, cause?: unknown): GatehouseError {
    return new GatehouseError('GH_SESSION_STORE_UNAVAILABLE', `redis ${this.where}: ${detail}`, cause === undefined ? undefined : { cause });
  }

  /** One command (or transaction); any failure becomes GH_SESSION_STORE_UNAVAILABLE. */
  async run<T>(what: string, command: (client: Redis) => Promise<T>): Promise<T> {
    if (!this.ready) throw this.unavailable(`not connected (${this.closed ? 'closed' : this.client.status}) for ${what}`);
    try {
      const result = await command(this.client);
      this.suspect = false;
      return result;
    } catch (cause) {
      this.suspect = true;
      throw this.unavailable(`${what} failed: ${(cause as Error).message}`, cause);
    }
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.run('ping', (c) => c.ping())) === 'PONG';
    } catch {
      return false;
    }
  }

  private onConnectionReady(): void {
    if (this.closed) return;
    if (!this.up && this.client.status === 'ready') {
      this.up = true;
      this.log.info({ redis: this.where }, 'redis connected');
    }
    for (const listener of this.readyListeners) listener();
  }

  private onConnectionLost(reason: string): void {
    if (this.closed || !this.up) return;
    this.up = false;
    this.log.warn({ redis: this.where, code: 'GH_SESSION_STORE_UNAVAILABLE', detail: reason }, 'redis connection lost; reconnecting');
  }

  /** Idempotent: the store and the revocation list may both close the link. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.disconnect();
    this.subscriber.disconnect();
  }
}
