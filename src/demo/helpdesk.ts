// The demo helpdesk behind the gateway: it shows what it was told about the
// person (X-Auth-* headers) and whether the signed assertion checks out, and
// exercises the paths a real helpdesk front end uses (XHR, websocket, sign-out).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { WebSocketServer } from 'ws';

export interface DemoHelpdeskOptions {
  port?: number;
  gatewayUrl: string; // e.g. http://127.0.0.1:8080; its /.gatehouse/jwks.json verifies X-Auth-Assertion
  expectedAudience?: string;
}
export interface DemoHelpdesk {
  url: string;
  port: number;
  close(): Promise<void>;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function isAgentPath(pathname: string): boolean {
  return pathname === '/agent' || pathname.startsWith('/agent/');
}

function identity(req: IncomingMessage) {
  const groups = header(req, 'x-auth-groups');
  return {
    realm: header(req, 'x-auth-realm') ?? null,
    subject: header(req, 'x-auth-subject') ?? null,
    email: header(req, 'x-auth-email') ?? null,
    name: header(req, 'x-auth-name') ?? null,
    groups: groups
      ? groups
          .split(',')
          .map((g) => g.trim())
          .filter(Boolean)
      : [],
  };
}

type Verdict = { ok: true; claims: JWTPayload } | { ok: false; reason: string };

// Kept tiny on purpose; the page sets no CSP, the gateway may.
function pageScript(wsPath: string, whoamiPath: string): string {
  return `(function(){
var ws=document.getElementById('ws-status'),xhr=document.getElementById('xhr-status'),seen=[];
try{var s=new WebSocket((location.protocol==='https:'?'wss://':'ws://')+location.host+${JSON.stringify(wsPath)});
s.onopen=function(){s.send('ping')};
s.onmessage=function(e){seen.push(String(e.data));ws.textContent=seen.join(' | ')};
s.onclose=function(e){if(!seen.length)ws.textContent='closed ('+e.code+')'};}catch(e){ws.textContent='failed: '+e.message}
document.getElementById('whoami').addEventListener('click',function(){
xhr.textContent='…';
fetch(${JSON.stringify(whoamiPath)},{headers:{accept:'application/json'},credentials:'same-origin'}).then(function(r){
if(r.status===401){xhr.textContent='401 ';var to=r.headers.get('X-Gatehouse-Login');
if(to){var a=document.createElement('a');a.href=to;a.textContent='Sign in again';xhr.appendChild(a)}return}
return r.text().then(function(t){try{t=JSON.stringify(JSON.parse(t),null,2)}catch(e){}xhr.textContent=r.status+' '+t})
}).catch(function(e){xhr.textContent='failed: '+e.message})});
})();`;
}

function renderPage(req: IncomingMessage, pathname: string, verdict: Verdict | undefined): string {
  const agent = isAgentPath(pathname);
  const who = identity(req);
  const xauth = Object.entries(req.headers)
    .filter(([k]) => k.startsWith('x-auth-'))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td><code>${esc(Array.isArray(v) ? v.join(', ') : v)}</code></td></tr>`)
    .join('');
  const assertion = verdict === undefined ? 'NOT verified: no X-Auth-Assertion header' : verdict.ok ? 'verified' : `NOT verified: ${verdict.reason}`;
  const claims = verdict?.ok ? `<pre id="claims">${esc(JSON.stringify(verdict.claims, null, 2))}</pre>` : '';
  const base = agent ? '/agent' : '';
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Demo helpdesk — ${esc(who.realm ?? 'anonymous')}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
table{border-collapse:collapse}td code{word-break:break-all}th,td{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}
pre,output{display:block;background:#f4f4f6;padding:.6rem;white-space:pre-wrap;word-break:break-all}
button{font:inherit;padding:.4rem .9rem}button:focus{outline:3px solid #2a6df4}</style></head>
<body><main id="identity">
<h1>Demo helpdesk (${agent ? 'agent' : 'user'} side)</h1>
<p>Realm: <strong id="realm">${esc(who.realm ?? 'none')}</strong> · Path: <code id="path">${esc(req.url ?? pathname)}</code></p>
<p>Subject: <strong id="subject">${esc(who.subject ?? 'anonymous')}</strong>${who.name ? ` (${esc(who.name)})` : ''}</p>
<h2>Identity headers received</h2>
${xauth ? `<table id="headers"><tbody>${xauth}</tbody></table>` : '<p id="headers">No X-Auth-* headers.</p>'}
<h2>Identity assertion</h2>
<p id="assertion">${esc(assertion)}</p>${claims}
<h2>Live checks</h2>
<p>Websocket (${esc(`${base}/ws`)}): <output id="ws-status" aria-live="polite">connecting…</output></p>
<p><button type="button" id="whoami">Ask ${esc(`${base}/api/whoami`)}</button></p>
<output id="xhr-status" aria-live="polite">not asked yet</output>
<form method="post" action="${base}/logout"><button type="submit">Sign out</button></form>
</main><script>${pageScript(`${base}/ws`, `${base}/api/whoami`)}</script></body></html>`;
}

export async function startDemoHelpdesk(opts: DemoHelpdeskOptions): Promise<DemoHelpdesk> {
  const jwksUrl = new URL('/.gatehouse/jwks.json', opts.gatewayUrl);
  const jwks = createRemoteJWKSet(jwksUrl, { timeoutDuration: 2000 });
  // iss = public_url; accept it with or without a trailing slash.
  const issuer = opts.gatewayUrl.replace(/\/+$/, '');

  async function verify(token: string): Promise<Verdict> {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: [issuer, `${issuer}/`],
        ...(opts.expectedAudience ? { audience: opts.expectedAudience } : {}),
      });
      return { ok: true, claims: payload };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      // jose errors carry a code; anything else is the JWKS fetch itself failing.
      return { ok: false, reason: e.code ? `${e.code}: ${e.message}` : `cannot load ${jwksUrl.href}: ${e.message ?? String(err)}` };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname } = new URL(req.url ?? '/', 'http://helpdesk');
    for await (const _ of req); // drain any body
    if (pathname.endsWith('/api/whoami')) {
      const body = JSON.stringify(identity(req));
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...identity(req), method: req.method, path: req.url }));
      return;
    }
    const token = header(req, 'x-auth-assertion');
    const html = renderPage(req, pathname, token ? await verify(token) : undefined);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : html);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('demo helpdesk error');
      } else res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const { pathname } = new URL(req.url ?? '/', 'http://helpdesk');
    if (!pathname.endsWith('/ws')) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => ws.terminate());
      ws.send(`hello ${header(req, 'x-auth-subject') ?? 'anonymous'}`);
      ws.on('message', (data) => ws.send(`echo:${data.toString()}`));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
