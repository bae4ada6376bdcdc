// The bare proxy: the leanest forwarding Node can do on this machine, with no
// authentication at all — a node:http server handing each request to an undici
// Pool through dispatch(), response bytes written straight to the client. Same
// worker count (node:cluster) and upstream connections as Gatehouse. It is the
// bench's physical limit for a Node proxy: Gatehouse's distance from it is the
// cost of its security work.
//
//   node bench/bare-proxy.mjs PORT UPSTREAM_URL WORKERS [identity]
//
// With `identity`, every request also carries headers the size and number of
// Gatehouse's (X-Forwarded-*, X-Request-Id, five identity headers, a 700-byte
// assertion), fixed strings: what telling the helpdesk who the person is costs
// a proxy, apart from working it out.
// bench/hot-path.mjs imports bareHandler and Relay to run the same work in-process.
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

export class Relay {
  constructor(res) {
    this.res = res;
  }
  onConnect() {}
  onHeaders(statusCode, rawHeaders, resume) {
    const headers = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i].toString('latin1');
      if (HOP_BY_HOP.has(name.toLowerCase())) continue;
      headers.push(name, rawHeaders[i + 1].toString('latin1'));
    }
    this.res.writeHead(statusCode, headers);
    this.resume = resume;
    return true;
  }
  onData(chunk) {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.resume);
    return false;
  }
  onComplete() {
    this.res.end();
  }
  onError() {
    if (this.res.headersSent) this.res.destroy();
    else {
      this.res.writeHead(502, { 'content-length': '0' });
      this.res.end();
    }
  }
}

/** The whole per-request work of the bare proxy: copy the headers, dispatch, relay the answer. */
export function bareHandler(pool, host, req, res, extraHeaders = []) {
  const raw = req.rawHeaders;
  const headers = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
  headers.push('host', host, ...extraHeaders);
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  pool.dispatch({ path: req.url, method: req.method, headers, body: hasBody ? req : null }, new Relay(res));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [portArg, upstream, workersArg, extraArg] = process.argv.slice(2);
  const identity =
    extraArg === 'identity'
      ? [
          'x-forwarded-for',
          '127.0.0.1',
          'x-forwarded-proto',
          'http',
          'x-request-id',
          '5afe7778-123',
          'x-forwarded-host',
          '127.0.0.1:8080',
          'x-auth-realm',
          'agent',
          'x-auth-subject',
          'alice-0001',
          'x-auth-email',
          'alice@example.com',
          'x-auth-name',
          'Alice Agent',
          'x-auth-groups',
          'helpdesk-agents',
          'x-auth-assertion',
          'e'.repeat(700),
        ]
      : [];
  const workers = Number(workersArg ?? 1);
  if (cluster.isPrimary && workers > 1) {
    for (let i = 0; i < workers; i++) cluster.fork();
    process.on('SIGTERM', () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
      process.exit(0);
    });
  } else {
    const pool = new Pool(upstream, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });
    const host = new URL(upstream).host;
    const server = createServer({ keepAliveTimeout: 5000, requestTimeout: 0 }, (req, res) => bareHandler(pool, host, req, res, identity));
    server.listen(Number(portArg), '127.0.0.1');
    process.on('SIGTERM', () => process.exit(0));
  }
}
