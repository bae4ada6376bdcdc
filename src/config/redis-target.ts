/**
 * Which Redis the gateway talks to, read from the session keys: one server
 * (redis_url), a master found through Sentinel (redis_sentinels +
 * redis_sentinel_master) or a Redis Cluster (redis_cluster). validate.ts
 * reports a bad combination; the link (session/redis/link.ts) and
 * `gatehouse check` both take the target from here, so the keys are read in
 * one place.
 */

export interface RedisNode {
  host: string;
  port: number;
}

export type RedisMode = 'server' | 'sentinel' | 'cluster';

export type RedisTarget =
  | { mode: 'server'; url: string; tls: boolean; password?: string | undefined }
  | {
      mode: 'sentinel';
      sentinels: RedisNode[];
      master: string;
      tls: boolean;
      password?: string | undefined;
      /** from the sentinel entries' own URLs (redis://:secret@host:26379): sentinels may want another password than the servers */
      sentinelPassword?: string | undefined;
    }
  | { mode: 'cluster'; nodes: RedisNode[]; tls: boolean; password?: string | undefined };

/** The three keys that name a Redis: exactly one of them is set. */
export const REDIS_MODE_KEYS = { server: 'redis_url', sentinel: 'redis_sentinels', cluster: 'redis_cluster' } as const;

export const REDIS_NODE_HINT = 'host:port, redis://host:port or rediss://host:port (TLS)';

export interface ParsedNode {
  node: RedisNode;
  tls: boolean;
  /** the entry's own password (redis://:secret@host:port), if any */
  password?: string | undefined;
}

/** One entry of redis_sentinels / redis_cluster, or the reason it is not one. */
export function parseRedisNode(text: string, defaultPort: number): ParsedNode | string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `redis://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return `must be ${REDIS_NODE_HINT}`;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return `must be ${REDIS_NODE_HINT} (got scheme ${url.protocol.replace(/:$/, '')})`;
  if (url.hostname === '') return `must be ${REDIS_NODE_HINT} (no host)`;
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash)
    return `must be ${REDIS_NODE_HINT}, without a path or database number (Sentinel and Cluster use database 0)`;
  const port = url.port === '' ? defaultPort : Number(url.port);
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  return { node: { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port }, tls: url.protocol === 'rediss:', password };
}

interface SessionKeys {
  redis_url?: string | undefined;
  redis_sentinels?: readonly string[] | undefined;
  redis_sentinel_master?: string | undefined;
  redis_cluster?: readonly string[] | undefined;
  redis_password?: string | undefined;
}

function nodesOf(entries: readonly string[], defaultPort: number): ParsedNode[] {
  return entries.map((entry) => {
    const parsed = parseRedisNode(entry, defaultPort);
    if (typeof parsed === 'string') throw new Error(`${entry}: ${parsed}`); // validate.ts refused it already
    return parsed;
  });
}

/** The target of a validated config, or undefined when no Redis is configured. */
export function redisTarget(session: SessionKeys): RedisTarget | undefined {
  const password = session.redis_password;
  if (session.redis_url !== undefined) return { mode: 'server', url: session.redis_url, tls: session.redis_url.startsWith('rediss:'), password };
  if (session.redis_sentinels !== undefined) {
    const sentinels = nodesOf(session.redis_sentinels, 26379);
    return {
      mode: 'sentinel',
      sentinels: sentinels.map((s) => s.node),
      master: session.redis_sentinel_master ?? '',
      tls: sentinels.some((s) => s.tls),
      password,
      sentinelPassword: sentinels.find((s) => s.password !== undefined)?.password,
    };
  }
  if (session.redis_cluster !== undefined) {
    const nodes = nodesOf(session.redis_cluster, 6379);
    return {
      mode: 'cluster',
      nodes: nodes.map((n) => n.node),
      tls: nodes.some((n) => n.tls),
      password: password ?? nodes.find((n) => n.password !== undefined)?.password,
    };
  }
  return undefined;
}

const hostPort = (n: RedisNode): string => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`);
export { hostPort };

/** For logs and check: where, never a password. */
export function describeRedisTarget(target: RedisTarget): string {
  const scheme = target.tls ? 'rediss' : 'redis';
  switch (target.mode) {
    case 'server': {
      try {
        const u = new URL(target.url);
        return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
      } catch {
        return '(unparseable redis_url)';
      }
    }
    case 'sentinel':
      return `sentinel master "${target.master}" via ${scheme}://${target.sentinels.map(hostPort).join(',')}`;
    case 'cluster':
      return `cluster ${scheme}://${target.nodes.map(hostPort).join(',')}`;
  }
}
