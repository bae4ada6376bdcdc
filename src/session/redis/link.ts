/**
 * The gateway's connection to Redis (ioredis), in any of the three modes of
 * config/redis-target.ts: one server, a master found through Sentinel, or a
 * Redis Cluster. Two connections (clients, in Cluster mode): one for commands
 * and one for publish/subscribe, both reconnecting by themselves, forever, with
 * a capped backoff; with Sentinel they ask the sentinels for the master at
 * every reconnect, so a failover is followed without a restart.
 *
 * Commands never wait for a connection that is not there: no offline queue, no
 * retry of a command, a short command timeout — so when Redis is down, hangs,
 * or has no master during a failover, a request fails within about a second
 * with GH_SESSION_STORE_UNAVAILABLE (503) instead of piling up.
 *
 * The link's health is one explicit state (RedisHealth below), changed only
 * here, by connection events and by command outcomes, and logged at each
 * change (never with a password). What each kind of request gets in each state
 * is the table in docs/architecture.md ("When Redis is away").
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { GatehouseError } from '../../errors.js';
import type { Logger } from '../../observe/log.js';
import { describeRedisTarget, type RedisTarget } from '../../config/redis-target.js';

/** every key and channel Gatehouse uses starts with this */
export const KEY_PREFIX = 'gatehouse:';
const COMMAND_TIMEOUT_MS = 1000;
const CONNECT_TIMEOUT_MS = 2000;
const MAX_RECONNECT_DELAY_MS = 2000;
/** at most one "a redis command failed" warning this often */
const SUSPECT_LOG_INTERVAL_MS = 10_000;

/**
 * - connecting: not connected yet since start.
 * - up: connected, and the last command succeeded: sessions may be served from the cache for a few seconds.
 * - suspect: connected as far as the client knows, but the last command failed (a timeout, a server that
 *   stopped answering, a Cluster shard without a master): nothing is served from memory until a command succeeds.
 * - down: a connection was lost; reconnecting (with Sentinel: asking the sentinels for the master).
 * - closed: the gateway is stopping.
 */
export type RedisHealth = 'connecting' | 'up' | 'suspect' | 'down' | 'closed';

/** ioredis' client for one server or Sentinel, or for a Cluster: the commands Gatehouse uses are the same on both */
export type RedisClient = Redis | Cluster;

/**
 * A refused password (a wrong one, or none where one is wanted), as Redis words it; ioredis reconnects
 * and is refused again, forever. A sentinel's refusal arrives inside ioredis' "All sentinels are
 * unreachable ... Last error: WRONGPASS ..."; neither message contains the password.
 */
const PASSWORD_REFUSED = /\b(WRONGPASS|NOAUTH)\b|invalid password/;

/** A command that reached a master that was just demoted (Sentinel failover): reconnect, and be told the new master. */
const reconnectOnReadonly = (error: Error): boolean => error.message.startsWith('READONLY');

/** the wait before reconnect number `attempt`: growing, capped, forever */
const reconnectDelayMs = (attempt: number): number => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS);

function clientsFor(target: RedisTarget): { client: RedisClient; subscriber: RedisClient } {
  // reconnect forever: the gateway recovers by itself when Redis (or a new master) is back
  const retryStrategy = reconnectDelayMs;
  const tls = target.tls ? { tls: {} } : {};
  const password = target.password === undefined ? {} : { password: target.password };
  const common: RedisOptions = { connectTimeout: CONNECT_TIMEOUT_MS, enableReadyCheck: true, reconnectOnError: reconnectOnReadonly, ...password };
  // fail fast: a command while disconnected rejects at once instead of queueing
  const forCommands: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: COMMAND_TIMEOUT_MS };
  // the subscriber re-subscribes by itself after a reconnect. No ready check: its INFO would race
  // a SUBSCRIBE already sent and fail ("only subscriber commands may be used"), dropping the connection
  const forSubscriber: RedisOptions = { enableReadyCheck: false, enableOfflineQueue: true, autoResubscribe: true, maxRetriesPerRequest: null };
  switch (target.mode) {
    case 'server':
      return {
        client: new Redis(target.url, { ...common, ...tls, retryStrategy, ...forCommands }),
        subscriber: new Redis(target.url, { ...common, ...tls, retryStrategy, ...forSubscriber }),
      };
    case 'sentinel': {
      const sentinel: RedisOptions = {
        sentinels: target.sentinels,
        name: target.master,
        ...(target.sentinelPassword === undefined ? {} : { sentinelPassword: target.sentinelPassword }),
        ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
        sentinelRetryStrategy: retryStrategy,
        sentinelCommandTimeout: COMMAND_TIMEOUT_MS,
        // the sentinels announce +switch-master: reconnect at once instead of when the old master's socket times out
        failoverDetector: true,
        retryStrategy,
      };
      return { client: new Redis({ ...common, ...sentinel, ...forCommands }), subscriber: new Redis({ ...common, ...sentinel, ...forSubscriber }) };
    }
    case 'cluster': {
      const cluster = (redisOptions: RedisOptions, offlineQueue: boolean): ClusterOptions => ({
        redisOptions: { ...common, ...tls, ...redisOptions },
        enableOfflineQueue: offlineQueue,
        enableReadyCheck: true,
        clusterRetryStrategy: retryStrategy,
        // a MOVED/ASK after a failover is followed at once, within the command's timeout; a shard without a
        // master (CLUSTERDOWN) is not waited for: the command fails and the request answers 503
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        maxRedirections: 4,
        // every read goes to the master: a replica may lag behind a sign-out or a spent state
        scaleReads: 'master',
      });
      const { enableOfflineQueue: _q, ...commandNodeOptions } = forCommands;
      const { enableOfflineQueue: _s, ...subscriberNodeOptions } = forSubscriber;
      return {
        client: new Cluster(target.nodes, cluster(commandNodeOptions, false)),
        // classic publish/subscribe is broadcast to every node of a Cluster: one subscription on any node hears every instance
        subscriber: new Cluster(target.nodes, cluster(subscriberNodeOptions, true)),
      };
    }
  }
}

export class RedisLink {
  readonly client: RedisClient;
  readonly subscriber: RedisClient;
  readonly where: string;
  readonly mode: RedisTarget['mode'];
  private readonly readyListeners: Array<() => void> = [];
  private state: RedisHealth = 'connecting';
  /** for the rate of the `suspect` warning (see become) */
  private suspectLoggedAt = Number.NEGATIVE_INFINITY;
  private suspectLogged = false;
  private suspectEpisodes = 0;
  /** a refused password is logged once, until the link is up again */
  private passwordRefusalLogged = false;
  /** connections ioredis gave up on, and how often each was started again since it was last ready (onGaveUp) */
  private readonly restarts = new Map<RedisClient, number>();

  constructor(
    target: RedisTarget,
    private readonly log: Logger,
  ) {
    this.where = describeRedisTarget(target);
    this.mode = target.mode;
    ({ client: this.client, subscriber: this.subscriber } = clientsFor(target));
    for (const connection of [this.client, this.subscriber]) {
      connection.on('ready', () => {
        this.restarts.delete(connection);
        this.onConnectionReady();
      });
      connection.on('error', (error: Error) => {
        this.onPasswordRefused(error.message);
        this.onConnectionLost(error.message);
      });
      connection.on('close', () => this.onConnectionLost('connection closed'));
      connection.on('end', () => this.onGaveUp(connection));
    }
    if (this.subscriber instanceof Cluster) {
      // the cluster's subscriber moves to another node by itself when its node goes: load again, as after a reconnect
      this.subscriber.on('-node', () => this.notifyReady());
    }
  }

  get health(): RedisHealth {
    return this.state;
  }

  /** true while commands can be sent */
  get ready(): boolean {
    return this.state !== 'closed' && this.client.status === 'ready';
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
  async run<T>(what: string, command: (client: RedisClient) => Promise<T>): Promise<T> {
    if (!this.ready) throw this.unavailable(`not connected (${this.state === 'closed' ? 'closed' : this.client.status}) for ${what}`);
    try {
      const result = await command(this.client);
      if (this.state === 'suspect') this.become('up', `${what} succeeded`);
      return result;
    } catch (cause) {
      const detail = `${what} failed: ${(cause as Error).message}`;
      if (this.state === 'up') this.become('suspect', detail);
      throw this.unavailable(detail, cause);
    }
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.run('ping', (c) => c.ping())) === 'PONG';
    } catch {
      return false;
    }
  }

  /** The one place the health changes, and is logged. */
  private become(next: RedisHealth, detail: string): void {
    const previous = this.state;
    if (previous === next || previous === 'closed') return;
    this.state = next;
    const redis = this.where;
    if (next === 'up') this.passwordRefusalLogged = false;
    if (next === 'up' && (previous === 'connecting' || previous === 'down')) this.log.info({ redis, mode: this.mode }, 'redis connected');
    else if (next === 'up') {
      if (this.suspectLogged) this.log.info({ redis, detail, failedEpisodes: this.suspectEpisodes }, 'redis answers again');
      this.suspectLogged = false;
    } else if (next === 'suspect') {
      // a Cluster shard without a master makes commands fail and succeed in turn, by key: one warning per interval, not per command
      this.suspectEpisodes++;
      const now = Date.now();
      if (now - this.suspectLoggedAt >= SUSPECT_LOG_INTERVAL_MS) {
        this.suspectLoggedAt = now;
        this.suspectLogged = true;
        this.log.warn(
          { redis, code: 'GH_SESSION_STORE_UNAVAILABLE', detail, failedEpisodes: this.suspectEpisodes },
          'a redis command failed; nothing is served from memory until one succeeds',
        );
        this.suspectEpisodes = 0;
      }
    } else if (next === 'down' && previous !== 'connecting')
      this.log.warn({ redis, code: 'GH_SESSION_STORE_UNAVAILABLE', detail }, 'redis connection lost; reconnecting');
  }

  private onConnectionReady(): void {
    if (this.state === 'closed') return;
    // up once both are: commands go through, and revocations published elsewhere arrive
    if (this.client.status === 'ready' && this.subscriber.status === 'ready' && (this.state === 'connecting' || this.state === 'down'))
      this.become('up', 'connected');
    this.notifyReady();
  }

  /**
   * ioredis ends a connection for good in one race of Sentinel mode: the failover detector of the lost
   * master's connection closes the connector while a reconnect is still asking a sentinel (a slow or hung
   * one), and the reconnect then fails with "Connection is closed" and is never tried again. Every
   * request would answer 503 until a restart. Unless the gateway is stopping, start the connection again,
   * with the same capped backoff as ioredis' own reconnects; once ready it subscribes again by itself.
   */
  private onGaveUp(connection: RedisClient): void {
    if (this.state === 'closed') return;
    this.become('down', 'the redis client stopped reconnecting');
    const attempt = (this.restarts.get(connection) ?? 0) + 1;
    this.restarts.set(connection, attempt);
    if (attempt === 1) this.log.warn({ redis: this.where, code: 'GH_SESSION_STORE_UNAVAILABLE' }, 'the redis client stopped reconnecting; starting it again');
    const timer = setTimeout(() => {
      if (this.state === 'closed' || connection.status !== 'end') return;
      // a failed start ends the connection again, and comes back here
      connection.connect().catch(() => undefined);
    }, reconnectDelayMs(attempt));
    timer.unref();
  }

  /**
   * Say which password is refused, once: without it the log of a gateway that starts with a wrong
   * password (the link is still `connecting`, which logs nothing) would only say Redis is not reachable.
   */
  private onPasswordRefused(reason: string): void {
    if (this.state === 'closed' || this.passwordRefusalLogged || !PASSWORD_REFUSED.test(reason)) return;
    this.passwordRefusalLogged = true;
    const which = reason.startsWith('All sentinels')
      ? 'the sentinels refused their password: give it in each entry of session.redis_sentinels (rediss://:secret@host:port)'
      : 'redis refused the password: session.redis_password is not the one it wants';
    this.log.warn({ redis: this.where, code: 'GH_SESSION_STORE_UNAVAILABLE', detail: reason }, `${which}; requests that need redis answer 503`);
  }

  private notifyReady(): void {
    if (this.state === 'closed') return;
    for (const listener of this.readyListeners) listener();
  }

  private onConnectionLost(reason: string): void {
    if (this.state === 'closed' || this.state === 'connecting') return;
    // a connection that is still ready only reported an error (Cluster: one node's): the command outcomes judge that
    if (this.client.status === 'ready' && this.subscriber.status === 'ready') return;
    this.become('down', reason);
  }

  /** Idempotent: the store and the revocation list may both close the link. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.client.disconnect();
    this.subscriber.disconnect();
  }
}
