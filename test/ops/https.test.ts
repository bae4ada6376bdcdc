// HTTPS only, as the helpdesk's SSO guide demands: listen.tls terminates TLS
// (the certificate is reloaded with the config), plain http is redirected with
// 308 (method kept) and never served or signed in, X-Forwarded-Proto counts
// only from trusted proxies, HSTS when configured — and a TLS terminator that
// is not trusted gets told exactly what to set instead of a redirect loop.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/server.js';
import { listeningSocket, portOf } from '../../src/demo/stack.js';
import type { Server as NetServer } from 'node:net';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { captureLogger, rawRequest, type LogCapture } from '../helpers/stack.js';
import { minimalYaml, spawnServe, startFakeProvider, tempDir, writeFile } from '../helpers/ops.js';

function selfSignedCert(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

interface TlsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  fingerprint: string;
}

function tlsRequest(url: string, method = 'GET', headers: Record<string, string> = {}): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, headers, rejectUnauthorized: false, agent: false }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Start a gateway on `listener` (a socket bound before the config naming its port), or on a port of its own. */
async function startWith(t: Tap.Test, yaml: string, listener?: NetServer, logs: LogCapture = captureLogger('info')): Promise<RunningGateway> {
  const { config } = parseConfigText(yaml, '(https test)', {});
  const gateway = await startGateway({ config, file: '(https test)', ...(listener ? { listener } : { port: 0, host: '127.0.0.1' }), logger: logs.logger });
  t.teardown(() => gateway.close());
  return gateway;
}

let upstream: Upstream;
let issuer: string;
t.before(async () => {
  upstream = await startUpstream();
  const provider = await startFakeProvider();
  issuer = provider.issuer;
  t.teardown(async () => {
    await upstream.close();
    await provider.close();
  });
});

t.test('listen.tls terminates TLS, sends HSTS, and reloads its certificate', async (t) => {
  const dir = tempDir(t);
  const first = selfSignedCert(dir, 'first');
  const listener = await listeningSocket();
  const port = portOf(listener);
  const yaml = minimalYaml({
    issuer,
    upstream: upstream.url,
    publicUrl: `https://127.0.0.1:${port}`,
    extra: `listen:\n  tls:\n    cert: ${first.cert}\n    key: ${first.key}\n  hsts_max_age: 180d\npublic_paths: [/favicon.ico]\n`,
  });
  const gateway = await startWith(t, yaml, listener);
  const base = `https://127.0.0.1:${port}`;

  const health = await tlsRequest(`${base}/.gatehouse/healthz`);
  t.equal(health.status, 200, 'served over TLS');
  t.equal(health.fingerprint, new X509Certificate(readFileSync(first.cert)).fingerprint256, 'with the configured certificate');

  const publicFile = await tlsRequest(`${base}/favicon.ico`, 'GET', { 'x-forwarded-proto': 'http' });
  t.equal(publicFile.status, 200, 'an untrusted X-Forwarded-Proto: http on a TLS connection is ignored: served, not redirected');
  t.equal(upstream.requests.at(-1)?.headers['x-forwarded-proto'], 'https', 'the helpdesk is told the truth');
  t.equal(publicFile.headers['strict-transport-security'], `max-age=${180 * 86400}`, 'HSTS as configured');

  // a new certificate in the same files, then a reload (what SIGHUP does)
  const second = selfSignedCert(dir, 'second');
  writeFile(dir, 'first.crt', readFileSync(second.cert, 'utf8'));
  writeFile(dir, 'first.key', readFileSync(second.key, 'utf8'));
  await gateway.reload(parseConfigText(yaml, '(https test)', {}).config);
  const after = await tlsRequest(`${base}/.gatehouse/healthz`);
  t.equal(after.status, 200);
  t.equal(after.fingerprint, new X509Certificate(readFileSync(second.cert)).fingerprint256, 'new connections get the new certificate');
});

t.test('no HSTS unless configured', async (t) => {
  const dir = tempDir(t);
  const { cert, key } = selfSignedCert(dir, 'plain');
  const listener = await listeningSocket();
  const port = portOf(listener);
  await startWith(
    t,
    minimalYaml({
      issuer,
      upstream: upstream.url,
      publicUrl: `https://127.0.0.1:${port}`,
      extra: `listen:\n  tls:\n    cert: ${cert}\n    key: ${key}\npublic_paths: [/favicon.ico]\n`,
    }),
    listener,
  );
  const answer = await tlsRequest(`https://127.0.0.1:${port}/favicon.ico`);
  t.equal(answer.status, 200);
  t.equal(answer.headers['strict-transport-security'], undefined);
});

t.test('plain http is redirected with 308 and never served or signed in', async (t) => {
  const logs = captureLogger('info');
  // TLS ends at a proxy on 10.0.0.0/8; this test's own connections (127.0.0.1) are not trusted
  const base = (
    await startWith(
      t,
      minimalYaml({
        issuer,
        upstream: upstream.url,
        publicUrl: 'https://helpdesk.example.com',
        extra: 'trusted_proxies: [10.0.0.0/8]\npublic_paths: [/favicon.ico]\n',
      }),
      undefined,
      logs,
    )
  ).url;
  const before = upstream.requests.length;

  const post = await rawRequest(base, 'POST', '/agent/tickets?x=1', [['Content-Length', '0']]);
  t.equal(post.status, 308, 'POST: 308 keeps the method (not 301/302, which turn it into GET)');
  t.equal(post.headers.location, 'https://helpdesk.example.com/agent/tickets?x=1');
  const publicPath = await rawRequest(base, 'GET', '/favicon.ico');
  t.equal(publicPath.status, 308, 'even public paths');
  const callback = await rawRequest(base, 'GET', '/agent/login/authenticate-callback/1?code=c&state=s');
  t.equal(callback.status, 308, 'a callback over plain http is not processed');
  t.equal(callback.headers.location, 'https://helpdesk.example.com/agent/login/authenticate-callback/1?code=c&state=s');

  const spoofed = await rawRequest(base, 'GET', '/favicon.ico', [['X-Forwarded-Proto', 'https']]);
  t.equal(spoofed.status, 308, 'X-Forwarded-Proto: https from an untrusted peer is ignored');
  await rawRequest(base, 'GET', '/favicon.ico', [['X-Forwarded-Proto', 'https']]);
  t.equal(upstream.requests.length, before, 'nothing reached the helpdesk over plain http');

  // probes and scrapers talk plain http to the instance itself: answered, not redirected to the load balancer
  t.equal((await rawRequest(base, 'GET', '/.gatehouse/healthz')).status, 200, 'healthz over plain http');
  t.not((await rawRequest(base, 'GET', '/.gatehouse/readyz')).status, 308, 'readyz over plain http');
  t.equal((await rawRequest(base, 'GET', '/.gatehouse/metrics')).status, 200, 'metrics over plain http');
  t.equal((await rawRequest(base, 'GET', '/.gatehouse/jwks.json')).status, 308, 'but nothing else under /.gatehouse/');
  t.equal((await rawRequest(base, 'GET', '/.gatehouse/login?realm=agent')).status, 308, 'and never a sign-in');
  t.equal((await rawRequest(base, 'GET', '/.gatehouse/healthz?x=1')).status, 308, 'exact paths only');

  const hints = logs.lines.filter((l) => typeof l.hint === 'string' && l.peer === '127.0.0.1');
  t.equal(hints.length, 1, 'the untrusted terminator is named once, not on every request');
  t.equal(hints[0]?.hint, 'trusted_proxies: [127.0.0.1/32]', 'with exactly what to set');
  t.match(hints[0]?.msg, /127\.0\.0\.1 is not in trusted_proxies.*set trusted_proxies: \[127\.0\.0\.1\/32\]/);
});

t.test('X-Forwarded-Proto from a trusted proxy decides', async (t) => {
  const base = (
    await startWith(
      t,
      minimalYaml({
        issuer,
        upstream: upstream.url,
        publicUrl: 'https://helpdesk.example.com',
        extra: 'trusted_proxies: [127.0.0.1/32]\npublic_paths: [/favicon.ico]\n',
      }),
    )
  ).url;
  const http = await rawRequest(base, 'PUT', '/favicon.ico', [
    ['X-Forwarded-Proto', 'http'],
    ['Content-Length', '0'],
  ]);
  t.equal(http.status, 308, 'the proxy says the browser used http: redirect');
  t.equal(http.headers.location, 'https://helpdesk.example.com/favicon.ico');
  // the proxy keeps the browser's Host (another host name would be refused with 421)
  const https = await rawRequest(base, 'GET', '/favicon.ico', [
    ['Host', 'helpdesk.example.com'],
    ['X-Forwarded-Proto', 'https'],
  ]);
  t.equal(https.status, 200, 'the proxy says https: served');
  t.equal(upstream.requests.at(-1)?.headers['x-forwarded-proto'], 'https');
  const none = await rawRequest(base, 'GET', '/favicon.ico');
  t.equal(none.status, 308, 'no header from the proxy: the socket (plain http) decides');
});

t.test('behind an untrusted TLS terminator, the start-up log says what to set', async (t) => {
  const file = writeFile(
    tempDir(t),
    'gateway.yaml',
    minimalYaml({ issuer, upstream: upstream.url, publicUrl: 'https://helpdesk.example.com', extra: 'listen:\n  host: 127.0.0.1\n  port: 0\n' }),
  );
  const serve = spawnServe(file);
  t.teardown(() => serve.kill());
  const line = await serve.waitForLog((l) => l.key === 'trusted_proxies');
  t.match(line.msg, /redirect loop/);
  t.match(line.hint, /^trusted_proxies: \[/);
  await serve.waitForLog((l) => l.msg === 'gatehouse listening');
  serve.child.kill('SIGTERM');
  t.equal((await serve.exited).code, 0);
});
