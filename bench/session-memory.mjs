#!/usr/bin/env node
// Memory per cached session, measured in one process: a real gateway (real
// sign-in at the in-process provider, real config), its request path fed N
// distinct session cookies, the heap measured after a full GC before and after.
// Then each part of the cache entries is dropped in turn and the heap measured
// again: what each part costs (the cookie value the entry is keyed by, the
// session data with its ID token, the claims, the headers, the assertion).
//
//   npm run build && node --expose-gc bench/session-memory.mjs [--sessions 10000]
// Prints one JSON line (bench/soak.mjs quotes it) after a human-readable table.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { REPO } from './lib/gatehouse.mjs';
import { claimPort } from './lib/ports.mjs';
import { signIn } from './lib/browser.mjs';
import { createRequire } from 'node:module';

if (typeof globalThis.gc !== 'function') {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const sessions = Number(opt('sessions', 10_000));

const { DEMO_ACCOUNTS } = await import(join(REPO, 'dist', 'demo', 'provider.js'));
const { demoYaml } = await import(join(REPO, 'dist', 'demo', 'stack.js'));
const { parseConfigText } = await import(join(REPO, 'dist', 'config', 'load.js'));
const { startGateway } = await import(join(REPO, 'dist', 'server.js'));
const { createLogger } = await import(join(REPO, 'dist', 'observe', 'log.js'));
const { handleRequest } = await import(join(REPO, 'dist', 'edge', 'front.js'));
const { deriveSealKeys, open, seal } = await import(join(REPO, 'dist', 'session', 'codec.js'));
const { newSessionId } = await import(join(REPO, 'dist', 'session', 'session.js'));
const UnwrapHandler = createRequire(join(REPO, 'package.json'))('undici/lib/handler/unwrap-handler.js');

const port = claimPort().port;
const publicUrl = `http://127.0.0.1:${port}`;
// the provider runs in a process of its own (lib/provider-child.mjs says why)
const providerProcess = spawn(process.execPath, [join(REPO, 'bench', 'lib', 'provider-child.mjs'), publicUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
const [firstLine] = await once(providerProcess.stdout, 'data');
const provider = JSON.parse(firstLine.toString());
const secret = randomBytes(32).toString('base64url');
const yaml = demoYaml(publicUrl, provider.issuer, 'http://127.0.0.1:9');
const { config } = parseConfigText(yaml, '(session-memory bench)', { GATEHOUSE_DEMO_SECRET: secret, GATEHOUSE_DEMO_LOG_LEVEL: 'warn' });
const gateway = await startGateway({ config, file: '(session-memory bench)', port, host: '127.0.0.1', logger: createLogger({ level: 'warn' }) });
const gw = gateway.gw;
// the upstream is never reached: every forwarded request is answered at once, through undici's adapter
// as in bench/hot-path.mjs (the gateway's handler speaks the current API, undici's core the older one)
const upstreamHead = ['Content-Type', 'text/plain', 'Content-Length', '2'].map((s) => Buffer.from(s, 'latin1'));
Object.defineProperty(gw, 'upstreamPool', {
  value: {
    dispatch(_options, handler) {
      const core = UnwrapHandler.unwrap(handler);
      core.onConnect?.(() => {});
      core.onHeaders(200, upstreamHead, () => {}, 'OK');
      core.onData(Buffer.from('ok'));
      core.onComplete([]);
      return true;
    },
    close: async () => {},
    destroy: async () => {},
  },
  configurable: true,
});

class NullSocket extends Duplex {
  constructor() {
    super();
    this.remoteAddress = '127.0.0.1';
  }
  _read() {}
  _write(_c, _e, cb) {
    cb();
  }
}
const socket = new NullSocket();
async function get(url, cookie) {
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  req.url = url;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  // as node:http's parser hands it over: a fresh Cookie header string per request, as on the wire
  const raw = ['Host', `127.0.0.1:${port}`, 'Accept', 'application/json', 'Cookie', `other=1; ${cookie}; _ga=GA1.2.${randomBytes(8).toString('hex')}`];
  req._addHeaderLines(raw, raw.length);
  req.complete = true;
  req.push(null);
  const res = new ServerResponse(req);
  res.assignSocket(socket);
  await handleRequest(gw, req, res, () => {
    throw new Error('reserved path');
  });
  res.detachSocket(socket);
  return res.statusCode;
}

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

let result;
try {
  const { jar } = await signIn(`${publicUrl}/agent/tickets`, DEMO_ACCOUNTS[0]);
  const c = jar.cookies.find((k) => k.name.endsWith('gatehouse-agent'));
  const keys = deriveSealKeys([secret], 'session:agent');
  const template = open(c.value, keys);
  if (!template) throw new Error('cannot open the signed-in session');
  const cookies = [];
  for (let i = 0; i < sessions; i++) {
    const s = i === 0 ? template : { ...template, id: newSessionId(), sub: `soak-user-${i}`, email: `soak-user-${i}@example.com`, name: `Soak User ${i}` };
    cookies.push(`${c.name}=${seal({ ...s, seenAt: Date.now() }, keys)}`);
  }
  const cookieBytes = cookies.reduce((s, v) => s + v.length, 0) / sessions;
  // settle the heap: one request of one session, so every lazily built object exists before the baseline
  for (let i = 0; i < 200; i++) if ((await get('/agent/tickets', cookies[0])) !== 200) throw new Error('the signed-in request was not answered 200');
  gw.cache.clear();
  const before = heap();
  for (const cookie of cookies) if ((await get('/agent/tickets', cookie)) !== 200) throw new Error('a session was not answered 200');
  const after = heap();
  const perSession = (after - before) / sessions;
  // which part costs what: drop each in turn (the order matters little: each figure is the heap freed by that part)
  const entries = [];
  for (const cookie of cookies) {
    const value = cookie.slice(c.name.length + 1);
    const e = gw.cache.get(value);
    if (e) entries.push(e);
  }
  if (entries.length !== sessions) throw new Error(`${entries.length} of ${sessions} sessions found in the cache`);
  const parts = [];
  let last = heap();
  const drop = (name, fn) => {
    for (const e of entries) fn(e);
    const now = heap();
    parts.push({ part: name, bytes: (last - now) / sessions });
    last = now;
  };
  drop('ID token kept in the session', (e) => {
    if (e.session.idToken !== undefined) e.session = { ...e.session, idToken: undefined };
  });
  drop('refresh token', (e) => {
    if (e.session.refreshToken !== undefined) e.session = { ...e.session, refreshToken: undefined };
  });
  drop("claims (the allow rules' copy)", (e) => {
    e.session = { ...e.session, claims: {} };
  });
  drop('signed assertion', (e) => {
    if ('assertion' in e) e.assertion = '';
  });
  drop('identity headers', (e) => {
    if ('headers' in e) e.headers = [];
  });
  drop('the rest of the session data', (e) => {
    e.session = { id: e.session.id };
  });
  const restBytes = last - before;
  gw.cache.clear();
  entries.length = 0;
  const cleared = heap();
  parts.push({ part: 'entry, cache slots and index, cookie value (the key)', bytes: (last - cleared) / sessions });
  parts.push({ part: 'not freed by clearing the cache', bytes: (cleared - before) / sessions });
  result = { sessions, perSessionBytes: perSession, cookieChars: cookieBytes, parts, heapBefore: before, heapAfter: after, restBytes };
} finally {
  await gateway.close();
  providerProcess.kill('SIGTERM');
}
process.stdout.write(
  `\nHeap per cached session (${result.sessions.toLocaleString('en-US')} sessions, heapUsed after full GC): ${Math.round(result.perSessionBytes)} bytes; cookie value ${Math.round(result.cookieChars)} characters\n\n`,
);
process.stdout.write('| part of a cache entry | bytes per session |\n| --- | ---: |\n');
for (const p of result.parts) process.stdout.write(`| ${p.part} | ${Math.round(p.bytes)} |\n`);
process.stdout.write(`SESSION_MEMORY_JSON ${JSON.stringify(result)}\n`);
