/**
 * `gatehouse check`, the Redis side, in each mode (config/redis-target.ts):
 * does every server, sentinel or cluster node answer (PING), which master did
 * the sentinels or the cluster name, and does the data's Redis keep what it
 * holds across its own restart (CONFIG GET appendonly / save)? A Redis without
 * persistence comes back empty: every session (store: redis) and every
 * sign-out it remembered (revocations) is gone — unless a replica is promoted
 * instead. Spoken over a plain (or TLS) socket in RESP, read-only, so check
 * needs no client library and changes nothing.
 */
import { connect, isIP } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { hostPort, type RedisMode, type RedisNode, type RedisTarget } from '../config/redis-target.js';

/** One sentinel, or one node of a cluster, as check found it. */
export interface RedisNodeReport {
  role: 'sentinel' | 'master' | 'replica';
  address: string;
  reachable: boolean;
  error?: string | undefined;
  /** sentinel: the master it names; replica: the master it follows; master: the hash slots it serves */
  detail?: string | undefined;
}

export interface RedisReport {
  mode: RedisMode;
  /** host:port of the server the gateway writes to (Sentinel: the master found; Cluster: the seed nodes), never the password */
  address: string;
  reachable: boolean;
  error?: string | undefined;
  /** Sentinel and Cluster: the master(s) found */
  masters?: string[] | undefined;
  /** Sentinel: every sentinel; Cluster: every node */
  nodes?: RedisNodeReport[] | undefined;
  /** what CONFIG GET said, when Redis let us ask (Cluster: of the first master that did) */
  appendonly?: string | undefined;
  save?: string | undefined;
  /** appendonly: every write is logged; snapshots: RDB only (what changed since the last one is lost); none: nothing survives a restart */
  persistence: 'appendonly' | 'snapshots' | 'none' | 'unknown';
  /** why persistence is unknown (CONFIG refused, a password needed) */
  detail?: string | undefined;
}

type Reply = string | number | null | Error | Reply[];

/** One RESP value from the front of `buffer`, or null when it is not complete yet. */
export function parseReply(buffer: string): { value: Reply; rest: string } | null {
  const end = buffer.indexOf('\r\n');
  if (end < 0) return null;
  const head = buffer.slice(1, end);
  const after = buffer.slice(end + 2);
  switch (buffer[0]) {
    case '+':
      return { value: head, rest: after };
    case '-':
      return { value: new Error(head), rest: after };
    case ':':
      return { value: Number(head), rest: after };
    case '$': {
      const length = Number(head);
      if (length < 0) return { value: null, rest: after };
      if (after.length < length + 2) return null;
      return { value: after.slice(0, length), rest: after.slice(length + 2) };
    }
    case '*': {
      const count = Number(head);
      const items: Reply[] = [];
      let rest = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(rest);
        if (!item) return null;
        items.push(item.value);
        rest = item.rest;
      }
      return { value: count < 0 ? null : items, rest };
    }
    default:
      throw new Error(`not a Redis reply: ${JSON.stringify(buffer.slice(0, 20))}`);
  }
}

function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** `CONFIG GET name` answers [name, value]. */
function configValue(reply: Reply | undefined): string | Error {
  if (reply instanceof Error) return reply;
  if (Array.isArray(reply) && typeof reply[1] === 'string') return reply[1];
  return new Error('no value');
}

export function persistenceOf(appendonly: string, save: string): RedisReport['persistence'] {
  if (appendonly === 'yes') return 'appendonly';
  return save.trim() === '' ? 'none' : 'snapshots';
}

interface Endpoint extends RedisNode {
  tls: boolean;
  username?: string | undefined;
  password?: string | undefined;
}

/** Send commands (AUTH first when a password is given) and collect one reply each; a string says why not. */
function ask(endpoint: Endpoint, commands: string[][], timeoutMs: number): Promise<Reply[] | string> {
  const auth = endpoint.password ? [endpoint.username ? ['AUTH', endpoint.username, endpoint.password] : ['AUTH', endpoint.password]] : [];
  const all = [...auth, ...commands];
  return new Promise((resolve) => {
    const options = { host: endpoint.host, port: endpoint.port, timeout: timeoutMs };
    // SNI names a host, never an IP address (RFC 6066; Node warns): the certificate is still checked against the address
    const socket = endpoint.tls ? connectTls({ ...options, ...(isIP(endpoint.host) ? {} : { servername: endpoint.host }) }) : connect(options);
    const replies: Reply[] = [];
    let buffer = '';
    let settled = false;
    const done = (result: Reply[] | string): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(result);
    };
    socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => socket.write(all.map((c) => command(...c)).join('')));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      try {
        for (let next = parseReply(buffer); next; next = parseReply(buffer)) {
          replies.push(next.value);
          buffer = next.rest;
        }
      } catch (error) {
        return done(`unexpected answer (${(error as Error).message})`);
      }
      // a refused AUTH is the answer to every command after it (they only say NOAUTH)
      if (replies.length >= all.length) done(auth.length > 0 && replies[0] instanceof Error ? commands.map(() => replies[0]!) : replies.slice(auth.length));
    });
    socket.once('timeout', () => done(`no answer within ${timeoutMs} ms`));
    socket.once('error', (error: NodeJS.ErrnoException) => done(`cannot connect (${error.code ?? error.message})`));
  });
}

const wantsPassword = (error: Error): boolean => /^(NOAUTH|WRONGPASS|ERR invalid password)/.test(error.message);

type ServerProbe = Omit<RedisReport, 'mode'> & { role?: string | undefined };

/** PING, persistence and ROLE of one Redis server. */
async function probeServer(endpoint: Endpoint, timeoutMs: number): Promise<ServerProbe> {
  const address = hostPort(endpoint);
  const replies = await ask(endpoint, [['PING'], ['CONFIG', 'GET', 'appendonly'], ['CONFIG', 'GET', 'save'], ['ROLE']], timeoutMs);
  if (typeof replies === 'string') return { address, reachable: false, error: replies, persistence: 'unknown' };
  const [ping, appendonlyReply, saveReply, roleReply] = replies;
  const role = Array.isArray(roleReply) && typeof roleReply[0] === 'string' ? roleReply[0] : undefined;
  if (ping instanceof Error) {
    // a password Redis wants and the config does not give, or a wrong one: the gateway could not use it
    if (wantsPassword(ping))
      return {
        address,
        reachable: false,
        error: endpoint.password
          ? `Redis refused the password (${ping.message.split(' ')[0]}): session.redis_password is not the one it wants`
          : `Redis wants a password (${ping.message.split(' ')[0]}): set session.redis_password`,
        persistence: 'unknown',
      };
    return { address, reachable: false, error: `unexpected answer to PING (${ping.message.slice(0, 40)})`, persistence: 'unknown' };
  }
  if (ping !== 'PONG') return { address, reachable: false, error: `unexpected answer to PING (${String(ping).slice(0, 40)})`, persistence: 'unknown' };
  const appendonly = configValue(appendonlyReply);
  const save = configValue(saveReply);
  if (appendonly instanceof Error || save instanceof Error) {
    // managed Redis services often refuse CONFIG: say so rather than guess
    const refusal = (appendonly instanceof Error ? appendonly : (save as Error)).message;
    return { address, reachable: true, role, persistence: 'unknown', detail: `CONFIG GET refused (${refusal.slice(0, 60)})` };
  }
  return { address, reachable: true, role, appendonly, save, persistence: persistenceOf(appendonly, save) };
}

/** One server (redis_url). */
export async function probeRedis(redisUrl: string, timeoutMs: number, password?: string): Promise<RedisReport> {
  const url = new URL(redisUrl);
  const endpoint: Endpoint = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || 6379),
    tls: url.protocol === 'rediss:',
    username: decodeURIComponent(url.username) || undefined,
    password: decodeURIComponent(url.password) || password,
  };
  const { role: _role, ...report } = await probeServer(endpoint, timeoutMs);
  return { mode: 'server', ...report, address: `${url.hostname}:${url.port || 6379}` };
}

/** Every sentinel: which master does it name? Then the master itself, and that it is one. */
async function probeSentinels(target: Extract<RedisTarget, { mode: 'sentinel' }>, timeoutMs: number): Promise<RedisReport> {
  const nodes: RedisNodeReport[] = await Promise.all(
    target.sentinels.map(async (sentinel): Promise<RedisNodeReport> => {
      const address = hostPort(sentinel);
      const replies = await ask(
        { ...sentinel, tls: target.tls, password: target.sentinelPassword },
        [['SENTINEL', 'get-master-addr-by-name', target.master]],
        timeoutMs,
      );
      if (typeof replies === 'string') return { role: 'sentinel', address, reachable: false, error: replies };
      const [named] = replies;
      if (named instanceof Error)
        return {
          role: 'sentinel',
          address,
          reachable: false,
          error: `${wantsPassword(named) ? (target.sentinelPassword ? 'refused the password in its entry' : 'wants a password (put it in its entry: redis://:secret@host:port)') : 'refused SENTINEL'}: ${named.message.slice(0, 60)}`,
        };
      if (!Array.isArray(named) || typeof named[0] !== 'string')
        return { role: 'sentinel', address, reachable: true, error: `does not watch a master named "${target.master}"` };
      return { role: 'sentinel', address, reachable: true, detail: `names ${hostPort({ host: named[0], port: Number(named[1]) })}` };
    }),
  );
  const named = [...new Set(nodes.filter((n) => n.detail).map((n) => n.detail!.replace(/^names /, '')))];
  const address = `master "${target.master}" via ${target.sentinels.length} sentinel${target.sentinels.length === 1 ? '' : 's'}`;
  if (named.length === 0) {
    const reasons = nodes.map((n) => `${n.address}: ${n.error ?? 'no master'}`).join('; ');
    return { mode: 'sentinel', address, reachable: false, error: `no sentinel names the master (${reasons})`, nodes, persistence: 'unknown' };
  }
  if (named.length > 1)
    return {
      mode: 'sentinel',
      address,
      reachable: false,
      error: `the sentinels disagree on the master (${named.join(', ')}): a failover is under way or they watch different servers`,
      masters: named,
      nodes,
      persistence: 'unknown',
    };
  const [host, port] = splitHostPort(named[0]!);
  const { role, ...master } = await probeServer({ host, port, tls: target.tls, password: target.password }, timeoutMs);
  if (master.reachable && role !== undefined && role !== 'master')
    return {
      mode: 'sentinel',
      ...master,
      address: named[0]!,
      masters: named,
      nodes,
      reachable: false,
      error: `the sentinels name ${named[0]} but it says it is a ${role}`,
    };
  return { mode: 'sentinel', ...master, address: named[0]!, masters: named, nodes };
}

function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), Number(address.slice(at + 1))];
}

/** `CLUSTER NODES`, asked of the first seed that answers; then every node it lists. */
async function probeCluster(target: Extract<RedisTarget, { mode: 'cluster' }>, timeoutMs: number): Promise<RedisReport> {
  const address = target.nodes.map(hostPort).join(',');
  let listing: string | null = null;
  const seedErrors: string[] = [];
  for (const seed of target.nodes) {
    const replies = await ask({ ...seed, tls: target.tls, password: target.password }, [['CLUSTER', 'NODES']], timeoutMs);
    const [nodesReply] = typeof replies === 'string' ? [] : replies;
    if (typeof nodesReply === 'string') {
      listing = nodesReply;
      break;
    }
    seedErrors.push(
      `${hostPort(seed)}: ${typeof replies === 'string' ? replies : nodesReply instanceof Error ? nodesReply.message.slice(0, 60) : 'no answer'}`,
    );
  }
  if (listing === null)
    return { mode: 'cluster', address, reachable: false, error: `no seed node answers CLUSTER NODES (${seedErrors.join('; ')})`, persistence: 'unknown' };
  const listed = listing
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      // <id> <ip:port@cport[,hostname]> <flags> <master-id> <ping> <pong> <epoch> <link> <slot>...
      const [id, endpoint, flags, masterId, , , , , ...slots] = line.split(' ') as [string, string, string, string, ...string[]];
      const [host, port] = splitHostPort(endpoint.split(/[@,]/)[0]!);
      return { id, host, port, flags: flags.split(','), masterId, slots };
    });
  const nodes: RedisNodeReport[] = [];
  const masters: string[] = [];
  let persistence: ServerProbe | null = null;
  await Promise.all(
    listed.map(async (node) => {
      const nodeAddress = hostPort(node);
      const isMaster = node.flags.includes('master');
      const probe = await probeServer({ host: node.host, port: node.port, tls: target.tls, password: target.password }, timeoutMs);
      const failed = node.flags.some((f) => f === 'fail' || f === 'fail?');
      const master = listed.find((m) => m.id === node.masterId);
      const detail = isMaster ? `slots ${node.slots.join(' ') || 'none'}` : `replica of ${master ? hostPort(master) : node.masterId}`;
      nodes.push({
        role: isMaster ? 'master' : 'replica',
        address: nodeAddress,
        reachable: probe.reachable && !failed,
        error: probe.error ?? (failed ? `flagged ${node.flags.join(',')} by the cluster` : undefined),
        detail,
      });
      if (isMaster && !failed) {
        masters.push(nodeAddress);
        if (probe.reachable && (persistence === null || persistence.persistence === 'unknown')) persistence = probe;
      }
    }),
  );
  nodes.sort((a, b) => (a.role === b.role ? a.address.localeCompare(b.address) : a.role === 'master' ? -1 : 1));
  masters.sort();
  const unslotted = listed.filter((n) => n.flags.includes('master') && n.slots.length === 0).length;
  const down = nodes.filter((n) => n.role === 'master' && !n.reachable);
  const found = persistence as ServerProbe | null;
  const base = {
    mode: 'cluster' as const,
    address,
    masters,
    nodes,
    appendonly: found?.appendonly,
    save: found?.save,
    persistence: found?.persistence ?? ('unknown' as const),
    detail: found?.detail,
  };
  if (down.length > 0)
    return {
      ...base,
      reachable: false,
      error: `master${down.length === 1 ? '' : 's'} not reachable: ${down.map((n) => `${n.address} (${n.error})`).join(', ')}`,
    };
  if (masters.length === unslotted)
    return { ...base, reachable: false, error: 'no master serves any hash slot: the cluster is not set up (redis-cli --cluster create)' };
  return { ...base, reachable: true };
}

/** The Redis of a config, in its mode. */
export function probeRedisTarget(target: RedisTarget, timeoutMs: number): Promise<RedisReport> {
  switch (target.mode) {
    case 'server':
      return probeRedis(target.url, timeoutMs, target.password);
    case 'sentinel':
      return probeSentinels(target, timeoutMs);
    case 'cluster':
      return probeCluster(target, timeoutMs);
  }
}

/** What the report says about persistence, in words. */
export function describePersistence(report: RedisReport): string {
  switch (report.persistence) {
    case 'appendonly':
      return `appendonly ${report.appendonly} (every write logged): sessions and sign-outs survive a Redis restart`;
    case 'snapshots':
      return `RDB snapshots only (save "${report.save}", appendonly ${report.appendonly}): what changed since the last snapshot is lost on a Redis restart`;
    case 'none':
      return `none (appendonly ${report.appendonly}, save "${report.save}"): a Redis restart loses every session and sign-out it holds`;
    default:
      return `unknown: ${report.detail ?? 'not looked at'}`;
  }
}

export const PERSISTENCE_FIX =
  'run Redis with `appendonly yes` (redis.conf, or `redis-server --appendonly yes` with a data volume), or at least RDB snapshots (`save 60 1`); or a replica that automatic failover (Sentinel, a managed service) promotes — and a primary without persistence must then not restart as primary';
