// A real nginx (Debian's /usr/sbin/nginx) as the helpdesk behind the gateway,
// for tests where how a helpdesk parses a request is the question: fragments,
// path spellings, upgrades, smuggling, forward-auth. What nginx served — its
// access log, one JSON line per request with $uri as nginx parsed it — is the
// ground truth, not what the gateway thinks it sent.
//
//   every path       return 200, a text body echoing what nginx parsed
//   .../ws           proxied (HTTP/1.1 upgrade) to a small node WebSocket
//                    backend, whose first message is "hello <subject> <realm>"
//   extraLocations   more `location` blocks, inserted into the server block
//   extraHttp        more directives for the http block (upstreams, maps)
//
// nginx keeps client connections alive (keepalive_timeout 65s, the default),
// as a production helpdesk does: a request that leaves bytes behind on a
// connection from the gateway shows up here as a second request.
//
// The port: nginx cannot listen on port 0 and report the port it got, so the
// helper claims one outside the kernel's ephemeral range (test/helpers/ports.ts:
// no port-0 listener in any test can get it, and parallel test files respect the
// claim). Something outside the tests may still hold it; nginx then exits at
// once with "Address already in use" in its error log, and the helper tries
// again with another claimed port (a few times). A unix socket would avoid this,
// but the gateway's upstream.url must be http://host:port.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { WebSocketServer } from 'ws';
import { claimPort } from './ports.js';

export const NGINX = '/usr/sbin/nginx';

/** One request nginx served, as its access log recorded it. */
export interface Entry {
  method: string;
  /** the normalized path nginx routes by (decoded, dot segments resolved, slashes merged) */
  uri: string;
  /** the request target exactly as it arrived */
  requestUri: string;
  /** X-Auth-Realm and X-Auth-Subject as they arrived ('' when absent) */
  realm: string;
  subject: string;
  status: number;
  /** the Connection and Upgrade headers as they arrived ('' when absent) */
  connectionHeader: string;
  upgradeHeader: string;
  /** nginx's connection serial number and how many requests that connection has carried */
  connection: number;
  connectionRequests: number;
}

export interface NginxHelpdeskOptions {
  /** nginx `location` blocks (or other server-level directives) added to the server block */
  extraLocations?: string;
  /** directives added to the http block */
  extraHttp?: string;
}

export interface NginxHelpdesk {
  url: string;
  port: number;
  /** every request nginx served so far (its own marker requests left out), in order */
  served(): Promise<Entry[]>;
  /** nginx's error log, for failure messages */
  errorLog(): Promise<string>;
  close(): Promise<void>;
}

const MARKER = '/.nginx-helpdesk/marker/';
const ATTEMPTS = 5;

function config(dir: string, port: number, wsPort: number, options: NginxHelpdeskOptions): string {
  // "escape=json": the log lines are JSON whatever bytes the request carried
  const fields = [
    '"method":"$request_method"',
    '"uri":"$uri"',
    '"requestUri":"$request_uri"',
    '"realm":"$http_x_auth_realm"',
    '"subject":"$http_x_auth_subject"',
    '"status":"$status"',
    '"connection":"$connection"',
    '"connectionRequests":"$connection_requests"',
    '"connectionHeader":"$http_connection"',
    '"upgradeHeader":"$http_upgrade"',
  ];
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 512; }
http {
  log_format served escape=json '{${fields.join(',')}}';
  access_log ${dir}/served.log served;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 65s;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  ${options.extraHttp ?? ''}
  server {
    listen 127.0.0.1:${port};
    server_name _;
    default_type text/plain;
    location / {
      return 200 "method=$request_method\\nuri=$uri\\nrequest_uri=$request_uri\\nrealm=$http_x_auth_realm\\nsubject=$http_x_auth_subject\\n";
    }
    location ~ /ws$ {
      proxy_pass http://127.0.0.1:${wsPort};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
    }
    location ^~ ${MARKER} {
      return 204;
    }
    ${options.extraLocations ?? ''}
  }
}
`;
}

/** A WebSocket backend for nginx to proxy to: greets with the identity nginx passed on, then echoes. */
async function startWebSocketBackend(): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => res.writeHead(426).end('upgrade required\n'));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.on('error', () => ws.terminate());
    ws.send(`hello ${String(req.headers['x-auth-subject'] ?? '-')} ${String(req.headers['x-auth-realm'] ?? '-')}`);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Started {
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Start nginx on `port`; resolves once it listens (its pid file exists), rejects with the error log if it exits first. */
export async function startNginx(dir: string): Promise<Started> {
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // nginx writes its pid file after it has bound its listening sockets
  const pidFile = join(dir, 'nginx.pid');
  const failed = exited.then(async () => {
    const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
    throw new Error(`nginx exited before listening: ${stderr}${log}`);
  });
  const ready = (async () => {
    for (;;) {
      if (existsSync(pidFile) && (await readFile(pidFile, 'utf8')).trim() === String(child.pid)) return;
      if (child.exitCode !== null) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await Promise.race([ready, failed]);
  if (child.exitCode !== null) await failed;
  failed.catch(() => {});
  return { child, exited };
}

export async function startNginxHelpdesk(options: NginxHelpdeskOptions = {}): Promise<NginxHelpdesk> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-nginx-'));
  const backend = await startWebSocketBackend();
  let started: Started | null = null;
  let port = 0;
  const claims: { release(): void }[] = [];
  const releaseClaims = (): void => {
    for (const claim of claims) claim.release();
  };
  try {
    for (let attempt = 1; started === null; attempt++) {
      const claim = claimPort();
      claims.push(claim);
      port = claim.port;
      await writeFile(join(dir, 'nginx.conf'), config(dir, port, backend.port, options));
      try {
        started = await startNginx(dir);
      } catch (error) {
        // the port is held outside the tests: try another; any other failure is final
        if (attempt >= ATTEMPTS || !/Address already in use/.test((error as Error).message)) throw error;
      }
    }
  } catch (error) {
    releaseClaims();
    await backend.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const { child, exited } = started;
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dir, 'served.log');
  let markers = 0;

  async function served(): Promise<Entry[]> {
    // nginx writes a request's log line when it finishes the request, after the
    // answer went out. One worker serves requests one after another, so once a
    // marker request sent now is in the log, every request answered before is too.
    const marker = `${MARKER}${++markers}`;
    const res = await request(`${url}${marker}`, { headers: { connection: 'close' } });
    await res.body.dump();
    for (let waited = 0; ; waited += 10) {
      const text = await readFile(logFile, 'utf8').catch(() => '');
      const lines = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, string>);
      if (lines.some((l) => l.uri === marker)) {
        return lines
          .filter((l) => !l.uri!.startsWith(MARKER))
          .map((l) => ({
            method: l.method!,
            uri: l.uri!,
            requestUri: l.requestUri!,
            realm: l.realm!,
            subject: l.subject!,
            status: Number(l.status),
            connection: Number(l.connection),
            connectionRequests: Number(l.connectionRequests),
            connectionHeader: l.connectionHeader!,
            upgradeHeader: l.upgradeHeader!,
          }));
      }
      if (waited > 5000) throw new Error(`nginx did not log ${marker}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  return {
    url,
    port,
    served,
    errorLog: () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''),
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      releaseClaims();
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
