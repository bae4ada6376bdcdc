/**
 * `gatehouse check`, the Redis side: does Redis answer (PING), and does it keep
 * what it holds across its own restart (CONFIG GET appendonly / save)? A Redis
 * without persistence comes back empty: every session (store: redis) and every
 * sign-out it remembered (revocations) is gone. Spoken over a plain socket in
 * RESP, read-only, so check needs no client library and changes nothing.
 */
import { connect } from 'node:net';

export interface RedisReport {
  /** host:port, never the password */
  address: string;
  reachable: boolean;
  error?: string | undefined;
  /** what CONFIG GET said, when Redis let us ask */
  appendonly?: string | undefined;
  save?: string | undefined;
  /** appendonly: every write is logged; snapshots: RDB only (what changed since the last one is lost); none: nothing survives a restart */
  persistence: 'appendonly' | 'snapshots' | 'none' | 'unknown';
  /** why persistence is unknown (CONFIG refused, a password needed, TLS) */
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

export function probeRedis(redisUrl: string, timeoutMs: number): Promise<RedisReport> {
  const url = new URL(redisUrl);
  const address = `${url.hostname}:${url.port || 6379}`;
  if (url.protocol === 'rediss:') {
    return Promise.resolve({ address, reachable: true, persistence: 'unknown', detail: 'rediss:// (TLS) is not looked at by check; the gateway connects itself' });
  }
  const password = decodeURIComponent(url.password);
  const username = decodeURIComponent(url.username);
  const commands = [
    ...(password ? [username ? command('AUTH', username, password) : command('AUTH', password)] : []),
    command('PING'),
    command('CONFIG', 'GET', 'appendonly'),
    command('CONFIG', 'GET', 'save'),
  ];
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 6379), timeout: timeoutMs });
    const replies: Reply[] = [];
    let buffer = '';
    let settled = false;
    const done = (report: RedisReport): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(report);
    };
    const unreachable = (error: string): void => done({ address, reachable: false, error, persistence: 'unknown' });
    socket.once('connect', () => socket.write(commands.join('')));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      try {
        for (let next = parseReply(buffer); next; next = parseReply(buffer)) {
          replies.push(next.value);
          buffer = next.rest;
        }
      } catch (error) {
        return unreachable(`unexpected answer (${(error as Error).message})`);
      }
      if (replies.length < commands.length) return;
      const [ping, appendonlyReply, saveReply] = replies.slice(password ? 1 : 0);
      if (ping instanceof Error) {
        // a password Redis wants and the URL does not give (or a wrong one): reachable, but nothing more to learn
        if (/^(NOAUTH|WRONGPASS|ERR invalid password)/.test(ping.message)) return done({ address, reachable: true, persistence: 'unknown', detail: `Redis wants a password (${ping.message.split(' ')[0]})` });
        return unreachable(`unexpected answer to PING (${ping.message.slice(0, 40)})`);
      }
      if (ping !== 'PONG') return unreachable(`unexpected answer to PING (${String(ping).slice(0, 40)})`);
      const appendonly = configValue(appendonlyReply);
      const save = configValue(saveReply);
      if (appendonly instanceof Error || save instanceof Error) {
        // managed Redis services often refuse CONFIG: say so rather than guess
        const refusal = (appendonly instanceof Error ? appendonly : (save as Error)).message;
        return done({ address, reachable: true, persistence: 'unknown', detail: `CONFIG GET refused (${refusal.slice(0, 60)})` });
      }
      done({ address, reachable: true, appendonly, save, persistence: persistenceOf(appendonly, save) });
    });
    socket.once('timeout', () => unreachable(`no answer within ${timeoutMs} ms`));
    socket.once('error', (error: NodeJS.ErrnoException) => unreachable(`cannot connect (${error.code ?? error.message})`));
  });
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
