// A real redis-server for one test file: loopback only, no persistence
// (`--save '' --appendonly no`) unless asked for `appendonly` (then
// `--appendonly yes` in a temp data directory of its own), stopped by its own PID. It can be stopped and
// started again on the same port during a test, to play an outage (data is
// lost, as with any Redis without persistence), or paused with SIGSTOP/SIGCONT,
// to play a Redis that hangs without closing connections.
//
// Its port: redis-server cannot listen on port 0 (0 turns TCP off) and the
// gateway only takes redis:// URLs, so this helper picks the port. It picks one
// outside the kernel's ephemeral range, so no `listen(0)` and no outgoing
// connection in any test can be given it, and claims it with a lock file that
// other test files (run in parallel) respect. The first start retries with
// another port when redis-server itself says the port is in use (something
// outside the tests holds it); a restart binds the port it had — nothing in the
// tests can have taken it in between, and if something else did, start() says so.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimPort } from './ports.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** PID of the running server, or null while stopped */
  readonly pid: number | null;
  /** SIGTERM and wait until the process is gone */
  stop(): Promise<void>;
  /** start again on the same port; resolves once it accepts connections */
  start(): Promise<void>;
  pause(): void;
  resume(): void;
  /** stop if running and give the port back; for teardown */
  close(): Promise<void>;
}

type Launch = { ok: true; child: ChildProcess; exited: Promise<void> } | { ok: false; portInUse: boolean; output: string };

/** Start redis-server on `port`: settles when it logs that it accepts connections, or when it exits. */
function launch(port: number, persistence: string[]): Promise<Launch> {
  return new Promise((resolve) => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...persistence, '--protected-mode', 'yes', '--loglevel', 'notice'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const onOutput = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (/Ready to accept connections/.test(output)) {
        child.stdout.off('data', onOutput);
        child.stdout.resume(); // keep draining what it logs later
        resolve({ ok: true, child, exited });
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', (error) => resolve({ ok: false, portInUse: false, output: `cannot start redis-server (is it installed?): ${error.message}` }));
    child.once('exit', () => resolve({ ok: false, portInUse: /Address already in use/.test(output), output }));
  });
}

export interface RedisOptions {
  /** `--appendonly yes` (every write logged, replayed on start) in a data directory kept across stop/start */
  appendonly?: boolean;
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const dataDir = options.appendonly ? mkdtempSync(join(tmpdir(), 'gatehouse-redis-')) : null;
  const persistence = dataDir ? ['--dir', dataDir, '--save', '', '--appendonly', 'yes'] : ['--save', '', '--appendonly', 'no'];
  let claim = claimPort();
  let first = await launch(claim.port, persistence);
  for (let attempt = 1; !first.ok && first.portInUse && attempt < 20; attempt++) {
    claim.release();
    claim = claimPort();
    first = await launch(claim.port, persistence);
  }
  if (!first.ok) {
    claim.release();
    throw new Error(`redis-server did not start: ${first.output}`);
  }
  const { port } = claim;
  let running: { child: ChildProcess; exited: Promise<void> } | null = first;

  const stop = async (): Promise<void> => {
    const proc = running;
    running = null;
    if (!proc || proc.child.exitCode !== null || proc.child.pid === undefined) return;
    process.kill(proc.child.pid, 'SIGCONT'); // a paused server cannot act on SIGTERM
    process.kill(proc.child.pid, 'SIGTERM');
    await proc.exited;
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    get pid() {
      return running?.child.pid ?? null;
    },
    stop,
    async start() {
      if (running) return;
      const again = await launch(port, persistence);
      if (!again.ok)
        throw new Error(
          `redis-server did not start again on port ${port}${again.portInUse ? ' (taken while it was stopped, by something outside the tests)' : ''}: ${again.output}`,
        );
      running = again;
    },
    pause() {
      if (running?.child.pid !== undefined) process.kill(running.child.pid, 'SIGSTOP');
    },
    resume() {
      if (running?.child.pid !== undefined) process.kill(running.child.pid, 'SIGCONT');
    },
    async close() {
      await stop();
      claim.release();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- Sentinel and Cluster
//
// Deployments of several redis-server processes, as an operator runs them, on
// loopback ports claimed like startRedis' (no persistence: what survives a lost
// master is what had replicated). Their timings (down-after-milliseconds,
// cluster-node-timeout) are the deployment's own settings, written in its
// redis config, not Gatehouse's.

/** One redis-server process on a claimed port: started once, waited for a log line, stopped by its PID. */
export interface RedisProcess {
  readonly port: number;
  readonly pid: number | null;
  readonly address: string;
  /** resolves with the first line of its log matching `pattern` (already logged, or later) */
  logged(pattern: RegExp): Promise<string>;
  /** SIGKILL (kill -9: no goodbye to its clients or the cluster) and wait until it is gone */
  kill(): Promise<void>;
  close(): Promise<void>;
}

async function startProcess(args: (port: number, extra: number) => string[], ready: RegExp, extraPort = false): Promise<RedisProcess> {
  const claims = [claimPort(), ...(extraPort ? [claimPort()] : [])];
  const [{ port }, bus] = claims as [{ port: number }, { port: number } | undefined];
  const child = spawn('redis-server', args(port, bus?.port ?? 0), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const match = (pattern: RegExp): string | undefined => output.split('\n').find((line) => pattern.test(line));
  const onOutput = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    for (const waiter of [...waiters]) {
      const line = match(waiter.pattern);
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const logged = (pattern: RegExp): Promise<string> => {
    const line = match(pattern);
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve) => waiters.push({ pattern, resolve }));
  };
  const started = await Promise.race([logged(ready).then(() => true), exited.then(() => false)]);
  const release = (): void => {
    for (const c of claims) c.release();
  };
  if (!started) {
    release();
    throw new Error(`redis-server ${args(port, 0).join(' ')} did not start: ${output}`);
  }
  let gone = false;
  const kill = async (): Promise<void> => {
    if (gone || child.exitCode !== null || child.pid === undefined) return;
    gone = true;
    process.kill(child.pid, 'SIGKILL');
    await exited;
  };
  return {
    port,
    address: `127.0.0.1:${port}`,
    get pid() {
      return gone ? null : (child.pid ?? null);
    },
    logged,
    kill,
    async close() {
      await kill();
      release();
    },
  };
}

const NO_PERSISTENCE = ['--save', '', '--appendonly', 'no'];

export interface RedisDeployment {
  /** the session keys that point a gateway at it, one YAML line each (under `session:`) */
  readonly sessionYaml: string[];
  close(): Promise<void>;
}

export interface SentinelDeployment extends RedisDeployment {
  readonly masterName: string;
  readonly master: RedisProcess;
  readonly replica: RedisProcess;
  readonly sentinels: RedisProcess[];
  /** what the deployment was started with, for a test's own clients */
  readonly tls?: RedisTls | undefined;
  readonly password?: string | undefined;
  readonly sentinelPassword?: string | undefined;
}

export interface SentinelOptions {
  downAfterMs?: number;
  /** TLS only (no plain port) on the servers and the sentinels, and between them (replication, sentinel to server) */
  tls?: RedisTls;
  /** `requirepass`/`masterauth` on master and replica, `sentinel auth-pass` for the sentinels; the gateway's redis_password */
  password?: string;
  /** `requirepass` on the sentinels themselves (they use it with each other too); given to the gateway in its entries' URLs */
  sentinelPassword?: string;
}

/** PEM files and TLS-only listening, as redis.conf lines (`name value`): the servers' and the sentinels' alike. */
function tlsConf(tls: RedisTls, port: number): string[][] {
  return [
    ['port', '0'],
    ['tls-port', String(port)],
    ['tls-replication', 'yes'],
    ['tls-cert-file', tls.certFile],
    ['tls-key-file', tls.keyFile],
    ['tls-ca-cert-file', tls.caFile],
    // the gateway has no client certificate: the server's certificate is what is checked
    ['tls-auth-clients', 'no'],
  ];
}

/**
 * A master, one replica and three sentinels (quorum 2) watching it. Resolves once
 * the replica is in sync and every sentinel knows the replica and the other two
 * sentinels: a failover can happen from then on. With `tls` and passwords, its
 * sessionYaml has rediss:// entries, the sentinels' password in each entry and
 * redis_password.
 */
export async function startSentinelDeployment(options: SentinelOptions = {}): Promise<SentinelDeployment> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sentinel-'));
  const masterName = 'gatehouse-test';
  const { tls, password, sentinelPassword } = options;
  const started: RedisProcess[] = [];
  try {
    const listen = (port: number): string[][] => (tls ? tlsConf(tls, port) : [['port', String(port)]]);
    // masterauth on the master too: once demoted, it follows the new master with the same password
    const auth =
      password === undefined
        ? []
        : [
            ['requirepass', password],
            ['masterauth', password],
          ];
    const common = (port: number): string[] => [
      ...[...listen(port), ...auth].flatMap(([name, value]) => [`--${name}`, value!]),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--dbfilename',
      `dump-${port}.rdb`,
      ...NO_PERSISTENCE,
      '--loglevel',
      'notice',
    ];
    const master = await startProcess((port) => common(port), /Ready to accept connections/);
    started.push(master);
    const replica = await startProcess((port) => [...common(port), '--replicaof', '127.0.0.1', String(master.port)], /Ready to accept connections/);
    started.push(replica);
    await replica.logged(/MASTER <-> REPLICA sync: Finished with success/);
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const sentinel = await startProcess((port) => {
        const conf = join(dir, `sentinel-${port}.conf`);
        writeFileSync(
          conf,
          [
            ...listen(port).map((line) => line.join(' ')),
            'bind 127.0.0.1',
            `dir ${dir}`,
            ...(sentinelPassword === undefined ? [] : [`requirepass ${sentinelPassword}`]),
            `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
            ...(password === undefined ? [] : [`sentinel auth-pass ${masterName} ${password}`]),
            `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
            `sentinel failover-timeout ${masterName} 10000`,
            `sentinel parallel-syncs ${masterName} 1`,
            '',
          ].join('\n'),
        );
        return [conf, '--sentinel'];
      }, /\+monitor master/);
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // a sentinel learns the replica from the master's INFO and the other sentinels from their hellos on the master
    await Promise.all(sentinels.map((s) => s.logged(/\+slave slave/)));
    await Promise.all(
      sentinels.map(async (s) => {
        for (const other of sentinels) if (other !== s) await s.logged(new RegExp(`\\+sentinel sentinel \\w+ 127\\.0\\.0\\.1 ${other.port} `));
      }),
    );
    const entry = (s: RedisProcess): string =>
      tls || sentinelPassword !== undefined
        ? `${tls ? 'rediss' : 'redis'}://${sentinelPassword === undefined ? '' : `:${encodeURIComponent(sentinelPassword)}@`}${s.address}`
        : s.address;
    return {
      masterName,
      master,
      replica,
      sentinels,
      tls,
      password,
      sentinelPassword,
      sessionYaml: [
        `redis_sentinels: [${sentinels.map(entry).join(', ')}]`,
        `redis_sentinel_master: ${masterName}`,
        ...(password === undefined ? [] : [`redis_password: ${JSON.stringify(password)}`]),
      ],
      async close() {
        await Promise.all(started.map((p) => p.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(started.map((p) => p.close()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** PEM files for a TLS deployment: a CA, and a certificate for 127.0.0.1 it signed */
export interface RedisTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1 (openssl), in a temp directory removed by `remove`. */
export function makeTestTls(): RedisTls & { remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-tls-'));
  const at = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    const result = spawnSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${result.stderr.toString()}`);
  };
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '1', '-subj', '/CN=gatehouse test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(at('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    at('server.csr'),
    '-CA',
    at('ca.pem'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-out',
    at('server.pem'),
    '-days',
    '1',
    '-extfile',
    at('san.ext'),
  );
  return { caFile: at('ca.pem'), certFile: at('server.pem'), keyFile: at('server.key'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ClusterDeployment extends RedisDeployment {
  readonly nodes: RedisProcess[];
}

/** `redis-cli` with a bounded run time; its output. */
function redisCli(args: string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`redis-cli ${args.join(' ')} exited ${code}: ${output}`));
    });
  });
}

/** How many healthy replicas of a master a `CLUSTER NODES` answer lists (`<id> <addr> <flags> <master-id> ...`). */
function knownReplicas(clusterNodes: string): number {
  return clusterNodes
    .split('\n')
    .map((line) => line.split(' '))
    .filter(([, , flags, masterId]) => flags !== undefined && /\bslave\b/.test(flags) && !/fail/.test(flags) && masterId !== '-').length;
}

/**
 * A Redis Cluster of three masters, each with `replicas` replicas (0 or 1), made
 * with `redis-cli --cluster create`. Resolves once every node says cluster_state:ok and, with
 * replicas, once every replica has synced and every node knows every replica.
 */
export async function startRedisCluster(options: { replicas?: 0 | 1; nodeTimeoutMs?: number; tls?: RedisTls } = {}): Promise<ClusterDeployment> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-'));
  const replicas = options.replicas ?? 1;
  const tls = options.tls;
  // with TLS: TLS only (no plain port), between the nodes too
  const listen = (port: number): string[] =>
    tls
      ? [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cluster',
          'yes',
          '--tls-replication',
          'yes',
          '--tls-cert-file',
          tls.certFile,
          '--tls-key-file',
          tls.keyFile,
          '--tls-ca-cert-file',
          tls.caFile,
          '--tls-auth-clients',
          'no',
        ]
      : ['--port', String(port)];
  const cliTls = tls ? ['--tls', '--cacert', tls.caFile] : [];
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < 3 * (1 + replicas); i++) {
      nodes.push(
        await startProcess(
          (port, busPort) => [
            ...listen(port),
            '--bind',
            '127.0.0.1',
            '--dir',
            dir,
            '--dbfilename',
            `dump-${port}.rdb`,
            ...NO_PERSISTENCE,
            '--loglevel',
            'notice',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            // the bus port is claimed too: port + 10000 might be taken
            '--cluster-port',
            String(busPort),
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 1000),
          ],
          /Ready to accept connections/,
          true,
        ),
      );
    }
    await redisCli([...cliTls, '--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', String(replicas), '--cluster-yes']);
    // every node agrees the cluster is up (gossip takes a moment after create): bounded, small steps
    for (const node of nodes) {
      const until = Date.now() + 20_000;
      while (!/cluster_state:ok/.test(await redisCli([...cliTls, '-p', String(node.port), 'cluster', 'info']))) {
        if (Date.now() > until) throw new Error(`cluster node ${node.address} never reported cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // redis-cli lists the masters first; a replica is ready for a failover once it has the master's data
    if (replicas > 0) await Promise.all(nodes.slice(3).map((n) => n.logged(/MASTER <-> REPLICA sync: Finished with success/)));
    // and once every node knows every replica (gossip again): CLUSTER SLOTS on any node names each shard's replica
    if (replicas > 0) {
      for (const node of nodes) {
        const until = Date.now() + 20_000;
        while (knownReplicas(await redisCli([...cliTls, '-p', String(node.port), 'cluster', 'nodes'])) < 3) {
          if (Date.now() > until) throw new Error(`cluster node ${node.address} never learned every replica`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
    return {
      nodes,
      sessionYaml: [
        `redis_cluster: [${nodes
          .slice(0, 3)
          .map((n) => `${tls ? 'rediss://' : ''}${n.address}`)
          .join(', ')}]`,
      ],
      async close() {
        await Promise.all(nodes.map((n) => n.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(nodes.map((n) => n.close()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
