// What the drills run against, all on loopback: a helpdesk whose behaviour a
// drill changes (up, down, slow), the demo OpenID Provider (stopped and started
// again on its port), redis-server, and Gatehouse as an operator runs it
// (`node dist/cli.js serve --config FILE`), its JSON log lines collected.
// Every process is stopped by its own PID.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { REPO } from '../lib/gatehouse.mjs';
import { claimPort } from '../lib/ports.mjs';
import { waitForPort } from '../lib/procs.mjs';
import { signIn } from '../lib/browser.mjs';

const { startDemoProvider, DEMO_ACCOUNTS } = await import(join(REPO, 'dist', 'demo', 'provider.js'));
const { demoClients } = await import(join(REPO, 'dist', 'demo', 'stack.js'));
const { deriveSealKeys, open, seal } = await import(join(REPO, 'dist', 'session', 'codec.js'));
const { newSessionId } = await import(join(REPO, 'dist', 'session', 'session.js'));

export const ALICE = DEMO_ACCOUNTS.find((a) => a.username === 'alice');
export const NAVIGATION = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
export const XHR = { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' };

/**
 * A helpdesk that answers JSON after `delayMs` (or ?ms=N), notes by X-Request-Id
 * when it answered, and can be taken down (its port closed) and brought back.
 */
export async function startHelpdesk() {
  const port = claimPort().port;
  const answeredAt = new Map();
  const received = new Set();
  const state = { delayMs: 0 };
  let server = null;
  const handler = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://helpdesk');
    const ms = url.searchParams.has('ms') ? Number(url.searchParams.get('ms')) : state.delayMs;
    if (typeof req.headers['x-request-id'] === 'string') received.add(req.headers['x-request-id']);
    const timer = setTimeout(() => {
      const id = req.headers['x-request-id'];
      if (typeof id === 'string') answeredAt.set(id, performance.now());
      const body = JSON.stringify({ ok: true, path: url.pathname, user: req.headers['x-auth-request-email'] ?? null });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }, ms);
    res.on('close', () => clearTimeout(timer));
  };
  const up = () =>
    new Promise((resolve, reject) => {
      server = createServer(handler);
      server.keepAliveTimeout = 30_000;
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const down = () =>
    new Promise((resolve) => {
      if (!server) return resolve();
      const s = server;
      server = null;
      s.close(() => resolve());
      s.closeAllConnections();
    });
  await up();
  return { url: `http://127.0.0.1:${port}`, port, state, answeredAt, received, up, down, close: down };
}

/** The demo provider on a port of its own; stop() and start() again on the same port (with new signing keys). */
export async function startProvider(publicUrl) {
  let provider = await startDemoProvider({ port: 0, clients: demoClients(publicUrl), accounts: DEMO_ACCOUNTS });
  const port = provider.port;
  let running = true;
  return {
    issuer: provider.issuer,
    port,
    async stop() {
      if (!running) return;
      running = false;
      await provider.close();
    },
    async start() {
      if (running) return;
      provider = await startDemoProvider({ port, clients: demoClients(publicUrl), accounts: DEMO_ACCOUNTS });
      running = true;
    },
    close() {
      return this.stop();
    },
  };
}

function ping(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** redis-server with appendonly yes in `dir`; kill() is kill -9, start() brings it back on the same port with the same data. */
export async function startRedis(dir) {
  const port = claimPort().port;
  let child = null;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--protected-mode', 'yes', '--loglevel', 'warning'],
      { stdio: 'ignore' },
    );
    const until = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (Date.now() > until) throw new Error('redis-server did not answer PING');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const exited = () => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
  await start();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    async kill() {
      child.kill('SIGKILL');
      await exited();
    },
    start,
    async close() {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited();
      }
    },
  };
}

/** redis-server (or a sentinel) in a process of its own; resolves once it logs `ready`; lines matching later are awaited with logged(). */
async function redisProcess(args, ready) {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const waiters = new Set();
  const find = (pattern) => output.split('\n').find((line) => pattern.test(line));
  const onData = (chunk) => {
    output += chunk.toString();
    for (const w of [...waiters]) {
      const line = find(w.pattern);
      if (line === undefined) continue;
      waiters.delete(w);
      w.resolve(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const logged = (pattern, timeoutMs = 60_000) => {
    const line = find(pattern);
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve, reject) => {
      const w = {
        pattern,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`redis-server never logged ${pattern}`));
      }, timeoutMs);
      waiters.add(w);
    });
  };
  await Promise.race([logged(ready), exited.then(() => Promise.reject(new Error(`redis-server ${args.join(' ')} exited: ${output.slice(-1000)}`)))]);
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    logged,
    async kill() {
      if (gone()) return;
      child.kill('SIGKILL');
      await exited;
    },
    async close() {
      if (gone()) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** redis-cli's output, or a rejection with it */
export function redisCli(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`redis-cli ${args.join(' ')}: ${out}`))));
  });
}

const NO_PERSISTENCE = ['--save', '', '--appendonly', 'no', '--loglevel', 'notice'];

/**
 * A master, a replica and three sentinels (quorum 2), down-after-milliseconds
 * `downAfterMs`; resolves once every sentinel knows the replica and the others.
 */
export async function startSentinel(dir, { downAfterMs = 5000 } = {}) {
  const procs = [];
  const close = () => Promise.all(procs.map((p) => p.close()));
  const node = async (extra = []) => {
    const port = claimPort().port;
    const p = await redisProcess(
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', `dump-${port}.rdb`, ...NO_PERSISTENCE, ...extra],
      /Ready to accept connections/,
    );
    procs.push(p);
    return { ...p, port };
  };
  try {
    const master = await node();
    const replica = await node(['--replicaof', '127.0.0.1', String(master.port)]);
    await replica.logged(/MASTER <-> REPLICA sync: Finished with success/);
    const sentinels = [];
    for (let i = 0; i < 3; i++) {
      const port = claimPort().port;
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor drill 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds drill ${downAfterMs}`,
          'sentinel failover-timeout drill 60000',
          '',
        ].join('\n'),
      );
      const p = await redisProcess([conf, '--sentinel'], /\+monitor master/);
      procs.push(p);
      sentinels.push({ ...p, port });
    }
    await Promise.all(sentinels.map((s) => s.logged(/\+slave slave/)));
    await Promise.all(
      sentinels.map(async (s) => {
        for (const o of sentinels) if (o !== s) await s.logged(new RegExp(`\\+sentinel sentinel \\w+ 127\\.0\\.0\\.1 ${o.port} `));
      }),
    );
    return {
      master,
      replica,
      sentinels,
      redisYaml: [`redis_sentinels: [${sentinels.map((s) => `127.0.0.1:${s.port}`).join(', ')}]`, 'redis_sentinel_master: drill'],
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Three masters with a replica each (redis-cli --cluster create), cluster-node-timeout `nodeTimeoutMs`. */
export async function startRedisCluster(dir, { nodeTimeoutMs = 5000 } = {}) {
  const nodes = [];
  const close = () => Promise.all(nodes.map((n) => n.close()));
  const cli = redisCli;
  try {
    for (let i = 0; i < 6; i++) {
      const port = claimPort().port;
      const bus = claimPort().port;
      const p = await redisProcess(
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--dbfilename',
          `dump-${port}.rdb`,
          ...NO_PERSISTENCE,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-port',
          String(bus),
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
        ],
        /Ready to accept connections/,
      );
      nodes.push({ ...p, port });
    }
    await cli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes']);
    for (const n of nodes) {
      const until = Date.now() + 30_000;
      while (!/cluster_state:ok/.test(await cli(['-p', String(n.port), 'cluster', 'info']))) {
        if (Date.now() > until) throw new Error('the cluster never came up');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await Promise.all(nodes.slice(3).map((n) => n.logged(/MASTER <-> REPLICA sync: Finished with success/)));
    return {
      nodes,
      cli,
      redisYaml: [
        `redis_cluster: [${nodes
          .slice(0, 3)
          .map((n) => `127.0.0.1:${n.port}`)
          .join(', ')}]`,
      ],
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export function gatewayYaml({
  port,
  helpdesk,
  issuer,
  workers = 1,
  store = 'cookie',
  redisUrl,
  redisYaml = [],
  timeout = '10s',
  maxConnections = 128,
  valid = true,
}) {
  const yaml = `# written by bench/drills
public_url: http://127.0.0.1:${port}
workers: ${workers}
listen:
  host: 127.0.0.1
  port: ${port}
upstream:
  url: ${helpdesk}
  timeout: ${timeout}
  max_connections: ${maxConnections}
session:
  secret: \${GATEHOUSE_DRILL_SECRET}
  store: ${store}
${redisUrl ? `  redis_url: ${redisUrl}\n` : ''}${redisYaml.map((line) => `  ${line}\n`).join('')}  refresh: false
public_paths: [/favicon.ico]
realms:
  agent:
    paths: [/agent]
    callback_path: /agent/login/authenticate-callback/1
    login: automatic
    provider:
      issuer: ${issuer}
      client_id: demo-agent
      client_secret: demo-agent-secret-0123456789abcdef
  user:
    paths: [/]
    callback_path: /login/authenticate-callback/2
    login: automatic
    provider:
      issuer: ${issuer}
      client_id: demo-user
      client_secret: demo-user-secret-0123456789abcdef
log:
  level: info
`;
  // an unknown key: the file no longer validates (exit 2 at start, rejected on reload)
  return valid ? yaml : yaml.replace('  timeout:', '  timout:');
}

/** `gatehouse serve` in a process of its own; resolves once it listens and is ready. */
export async function startGateway({ dir, port, name = 'gateway', ...yamlOptions }) {
  const file = join(dir, `${name}-${port}.yaml`);
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, gatewayYaml({ port, ...yamlOptions }));
  const child = spawn(process.execPath, [join(REPO, 'dist', 'cli.js'), 'serve', '--config', file], {
    env: { ...process.env, GATEHOUSE_DRILL_SECRET: secret, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const waiters = new Set();
  let buffer = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        line = { raw: text };
      }
      line.seenAt = performance.now();
      lines.push(line);
      for (const w of [...waiters]) {
        if (!w.test(line)) continue;
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });
  child.stderr.on('data', (c) => (stderr = (stderr + c.toString()).slice(-8000)));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })));
  const gateway = {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    child,
    file,
    secret,
    lines,
    exited,
    stderr: () => stderr,
    waitForLog(test, timeoutMs = 15_000) {
      const seen = lines.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          test,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no such log line within ${timeoutMs} ms; stderr: ${stderr.slice(-500)}`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    writeConfig(options) {
      writeFileSync(file, gatewayYaml({ port, ...yamlOptions, ...options }));
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await Promise.race([
      waitForPort(port, 20_000, 'gatehouse'),
      exited.then(({ code }) => {
        throw new Error(`gatehouse exited (${code}) before listening: ${stderr.slice(-2000)}`);
      }),
    ]);
    // every worker listening and every provider discovered
    const until = Date.now() + 20_000;
    while (
      (await fetch(`${gateway.url}/.gatehouse/readyz`).then(
        (r) => r.status,
        () => 0,
      )) !== 200
    ) {
      if (Date.now() > until) throw new Error('gatehouse never became ready');
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (error) {
    await gateway.stop();
    throw error;
  }
  return gateway;
}

/** One real sign-in through the provider: the session cookie ("name=value") it leaves. */
export async function realSession(gateway, path = '/agent/tickets') {
  const flow = await signIn(`${gateway.url}${path}`, ALICE);
  if (flow.res.status !== 200) throw new Error(`sign-in ended with ${flow.res.status}: ${flow.res.body.slice(0, 200)}`);
  const cookie = flow.jar.cookies.find((c) => c.name.endsWith('gatehouse-agent'));
  if (!cookie) throw new Error('sign-in left no session cookie');
  return `${cookie.name}=${cookie.value}`;
}

/** `count` cookie sessions: one real sign-in, then that session sealed again with new ids and subjects (as bench/soak.mjs). */
export async function manySessions(gateway, count) {
  const real = await realSession(gateway);
  const [name, value] = [real.slice(0, real.indexOf('=')), real.slice(real.indexOf('=') + 1)];
  const keys = deriveSealKeys([gateway.secret], 'session:agent');
  const template = await open(value, keys);
  if (!template) throw new Error('cannot open the session just signed in (secret or codec changed?)');
  const cookies = [real];
  for (let i = 1; i < count; i++)
    cookies.push(
      `${name}=${await seal({ ...template, id: newSessionId(), sub: `drill-user-${i}`, email: `drill-user-${i}@example.com`, seenAt: Date.now() }, keys)}`,
    );
  return cookies;
}

export { claimPort, signIn };
