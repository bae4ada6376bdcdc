#!/usr/bin/env node
// What Gatehouse's own code costs per request, without the sockets. The
// comparison table (bench/run.mjs) measures whole processes, where the
// kernel's loopback sends are a third of the time and other load on a shared
// machine moves the figures by several µs between runs. Here the request path
// runs in-process in a tight loop: a real gateway (real sign-in at the
// in-process provider, real config, real session cache), fed requests built
// from the same raw headers a browser sends, with the upstream pool replaced by
// one that answers at once with nginx's response. The bare proxy's handler
// (bench/bare-proxy.mjs: copy the headers, dispatch, relay the answer) runs in
// the same loop on the same objects, so the difference between the two is the
// price of Gatehouse's security work — the part a code change can move.
//
//   npm run build && node bench/hot-path.mjs [--iterations 50000] [--rounds 5] [--rows signed-in,unauth-api,unauth-nav,public]
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
import { bareHandler } from './bare-proxy.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : fallback);
const iterations = Number(opt('iterations', 50_000));
const ROUNDS = Number(opt('rounds', 5));
const wanted = opt('rows', 'signed-in,unauth-api,unauth-nav,public').split(',');

const { DEMO_ACCOUNTS } = await import(join(REPO, 'dist', 'demo', 'provider.js'));
const { demoYaml } = await import(join(REPO, 'dist', 'demo', 'stack.js'));
const { parseConfigText } = await import(join(REPO, 'dist', 'config', 'load.js'));
const { startGateway } = await import(join(REPO, 'dist', 'server.js'));
const { createLogger } = await import(join(REPO, 'dist', 'observe', 'log.js'));
const { handleRequest } = await import(join(REPO, 'dist', 'edge', 'front.js'));
const UnwrapHandler = createRequire(join(REPO, 'package.json'))('undici/lib/handler/unwrap-handler.js');

const port = claimPort().port;
const publicUrl = `http://127.0.0.1:${port}`;
// the provider runs in a process of its own (lib/provider-child.mjs says why)
const providerProcess = spawn(process.execPath, [join(REPO, 'bench', 'lib', 'provider-child.mjs'), publicUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
const [firstLine] = await once(providerProcess.stdout, 'data');
const provider = JSON.parse(firstLine.toString());
// the upstream is never reached: the pool is replaced below
const yaml = demoYaml(publicUrl, provider.issuer, 'http://127.0.0.1:9').replace('public_paths:\n', 'public_paths:\n  - /assets/**\n');
const { config } = parseConfigText(yaml, '(hot-path bench)', {
  GATEHOUSE_DEMO_SECRET: randomBytes(32).toString('base64url'),
  GATEHOUSE_DEMO_LOG_LEVEL: 'warn',
});
const gateway = await startGateway({ config, file: '(hot-path bench)', port, host: '127.0.0.1', logger: createLogger({ level: 'warn' }) });
const gw = gateway.gw;

// nginx's answer in the comparison table: these headers and a 1 KB body
const upstreamHead = [
  'Server',
  'nginx/1.22.1',
  'Date',
  new Date().toUTCString(),
  'Content-Type',
  'text/plain',
  'Content-Length',
  '1024',
  'Connection',
  'keep-alive',
].map((s) => Buffer.from(s, 'latin1'));
const upstreamBody = Buffer.alloc(1024, 120);
/**
 * A pool that answers every dispatch at once, as undici calls the handler: its
 * core speaks the older callbacks, and a handler written to the current API
 * (onRequestStart, onResponseStart, ...) is reached through undici's own
 * adapter, which also parses the headers — a cost the gateway really pays.
 */
const instantPool = {
  dispatch(_options, handler) {
    const core = UnwrapHandler.unwrap(handler);
    core.onConnect?.(() => {});
    core.onHeaders(200, upstreamHead, () => {}, 'OK');
    core.onData(upstreamBody);
    core.onComplete([]);
    return true;
  },
  close: async () => {},
  destroy: async () => {},
};
Object.defineProperty(gw, 'upstreamPool', { value: instantPool, configurable: true });

/** A socket that takes every write and drops it. */
class NullSocket extends Duplex {
  constructor() {
    super();
    this.remoteAddress = '127.0.0.1';
    this.writable = true;
  }
  _read() {}
  _write(_chunk, _encoding, callback) {
    callback();
  }
  _writev(_chunks, callback) {
    callback();
  }
}

function buildRequest(socket, url, rawHeaders) {
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  req.url = url;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  req._addHeaderLines(rawHeaders, rawHeaders.length); // what node:http's parser does
  req.complete = true;
  req.push(null);
  return req;
}

function newResponse(req, socket) {
  const res = new ServerResponse(req);
  res.assignSocket(socket);
  return res;
}

/** The bare proxy's request handler (bench/bare-proxy.mjs), on the same objects. */
const bare = (req, res) => bareHandler(instantPool, '127.0.0.1:9', req, res);

const browserHeaders = (extra) => [
  'Host',
  `127.0.0.1:${port}`,
  'User-Agent',
  'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0',
  'Accept-Encoding',
  'gzip, deflate, br',
  'Accept-Language',
  'en',
  ...extra,
];

let failures = 0;
/** Runs `handle` on fresh request objects; returns ns per request and checks the status of every answer. */
async function measure(handle, url, rawHeaders, expectStatus) {
  const socket = new NullSocket();
  const run = async (n) => {
    for (let i = 0; i < n; i++) {
      const req = buildRequest(socket, url, rawHeaders);
      const res = newResponse(req, socket);
      const pending = handle(req, res);
      if (pending !== undefined) await pending;
      if (res.statusCode !== expectStatus) {
        if (failures++ === 0) process.stderr.write(`${url}: status ${res.statusCode}, expected ${expectStatus}\n`);
      }
      res.detachSocket(socket);
      // node:http uncorks the socket on the next tick: let ticks run, or every write would pile up
      if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await run(Math.min(20_000, iterations));
  // the fastest of a few rounds: other work on the machine only ever adds time
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    await run(iterations);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / iterations);
  }
  return best;
}

const gatehouse = (req, res) =>
  handleRequest(gw, req, res, () => {
    throw new Error('a reserved path was handed to Fastify');
  });

const rows = [];
try {
  const { jar } = await signIn(`${publicUrl}/agent/tickets`, DEMO_ACCOUNTS[0]);
  const cookie = jar.header(`${publicUrl}/agent/tickets`);
  if (!cookie) throw new Error('sign-in left no session cookie');
  const signedIn = browserHeaders(['Accept', 'text/html', 'Cookie', cookie]);
  const table = {
    'signed-in': { url: '/agent/tickets', headers: signedIn, status: 200, bare: true },
    'unauth-api': { url: '/agent/api/tickets', headers: browserHeaders(['Accept', 'application/json']), status: 401 },
    'unauth-nav': { url: '/agent/tickets', headers: browserHeaders(['Accept', 'text/html', 'Sec-Fetch-Mode', 'navigate']), status: 302 },
    public: { url: '/assets/app.js', headers: browserHeaders(['Accept', '*/*']), status: 200, bare: true },
  };
  for (const name of wanted) {
    const row = table[name];
    if (!row) throw new Error(`no row ${name}`);
    const ns = await measure(gatehouse, row.url, row.headers, row.status);
    const bareNs = row.bare ? await measure(bare, row.url, row.headers, 200) : null;
    rows.push({ name, ns, bareNs });
  }
} finally {
  await gateway.close();
  providerProcess.kill('SIGTERM');
}

process.stdout.write(
  `\nIn-process request path: the fastest of ${ROUNDS} rounds of ${iterations.toLocaleString('en-US')} requests per row (no sockets, no kernel; node:http's response object included)\n\n`,
);
process.stdout.write('| row | gatehouse µs/req | bare proxy µs/req | gatehouse own work µs/req |\n| --- | ---: | ---: | ---: |\n');
for (const r of rows) {
  const own = r.bareNs !== null ? ((r.ns - r.bareNs) / 1000).toFixed(2) : '—';
  process.stdout.write(`| ${r.name} | ${(r.ns / 1000).toFixed(2)} | ${r.bareNs !== null ? (r.bareNs / 1000).toFixed(2) : '—'} | ${own} |\n`);
}
if (failures > 0) {
  process.stdout.write(`\n${failures} answers had an unexpected status: the figures above are not valid\n`);
  process.exitCode = 1;
}
