import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { WebSocket } from 'ws';
import { startDemoHelpdesk } from '../../src/demo/helpdesk.js';

const AUDIENCE = 'http://helpdesk.internal';

/** Stands in for the gateway: serves /.gatehouse/jwks.json and signs assertions like it would. */
async function startFakeGateway() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'gw-1', alg: 'ES256', use: 'sig' };
  const server = createServer((req, res) => {
    if (req.url === '/.gatehouse/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sign = (claims: Record<string, unknown>, opts: { audience?: string; issuer?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'gw-1' })
      .setIssuer(opts.issuer ?? url)
      .setAudience(opts.audience ?? AUDIENCE)
      .setSubject('user-alice')
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(privateKey);
  return {
    url,
    sign,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

async function setup(t: { teardown(fn: () => unknown): void }) {
  const gw = await startFakeGateway();
  t.teardown(gw.close);
  const helpdesk = await startDemoHelpdesk({ gatewayUrl: gw.url, expectedAudience: AUDIENCE });
  t.teardown(helpdesk.close);
  return { gw, helpdesk };
}

const aliceHeaders = {
  'x-auth-realm': 'agent',
  'x-auth-subject': 'user-alice',
  'x-auth-email': 'alice@example.com',
  'x-auth-name': 'Alice Agent',
  'x-auth-groups': 'helpdesk-agents, tier-2',
};

function textOf(html: string, id: string): string | undefined {
  return new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(html)?.[1];
}

t.test('agent page shows the identity headers and a verified assertion', async (t) => {
  const { gw, helpdesk } = await setup(t);
  const assertion = await gw.sign({ realm: 'agent', email: 'alice@example.com', groups: ['helpdesk-agents'] });
  const res = await fetch(`${helpdesk.url}/agent/tickets?x=1`, { headers: { ...aliceHeaders, 'x-auth-assertion': assertion, accept: 'text/html' } });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /text\/html/);
  t.notOk(res.headers.get('content-security-policy'), 'sets no CSP itself');
  const html = await res.text();
  t.match(html, /<main id="identity">/);
  t.equal(textOf(html, 'realm'), 'agent');
  t.equal(textOf(html, 'subject'), 'user-alice');
  t.equal(textOf(html, 'path'), '/agent/tickets?x=1');
  t.equal(textOf(html, 'assertion'), 'verified');
  t.match(html, /&#34;realm&#34;: &#34;agent&#34;/, 'claims shown');
  for (const name of Object.keys(aliceHeaders)) t.match(html, `<th scope="row">${name}</th>`, `shows ${name}`);
  t.match(html, '<form method="post" action="/agent/logout">');
  t.match(html, '"/agent/ws"');
  t.match(html, '"/agent/api/whoami"');
  t.match(html, 'id="ws-status"');
  t.match(html, 'id="whoami"');
  t.match(html, 'id="xhr-status"');
  t.match(html, 'X-Gatehouse-Login');
  t.notMatch(html, /<(?:script|link|img)[^>]+(?:src|href)=/i, 'no external assets');
});

t.test('user page: bogus, wrong-audience and missing assertions are NOT verified', async (t) => {
  const { gw, helpdesk } = await setup(t);
  const headers = { ...aliceHeaders, 'x-auth-realm': 'user' };

  const bogus = await (await fetch(`${helpdesk.url}/tickets`, { headers: { ...headers, 'x-auth-assertion': 'not.a.jwt' } })).text();
  t.match(textOf(bogus, 'assertion'), /^NOT verified: /);
  t.equal(textOf(bogus, 'realm'), 'user');
  t.match(bogus, '<form method="post" action="/logout">');
  t.match(bogus, '"/ws"');
  t.match(bogus, '"/api/whoami"');

  const wrongAud = await gw.sign({ realm: 'user' }, { audience: 'http://someone-else' });
  const aud = await (await fetch(`${helpdesk.url}/`, { headers: { ...headers, 'x-auth-assertion': wrongAud } })).text();
  t.match(textOf(aud, 'assertion'), /^NOT verified: .*aud/);

  const wrongIss = await gw.sign({ realm: 'user' }, { issuer: 'http://evil.example' });
  const iss = await (await fetch(`${helpdesk.url}/`, { headers: { ...headers, 'x-auth-assertion': wrongIss } })).text();
  t.match(textOf(iss, 'assertion'), /^NOT verified: .*iss/);

  const none = await (await fetch(`${helpdesk.url}/`)).text();
  t.match(textOf(none, 'assertion'), /^NOT verified: no X-Auth-Assertion/);
  t.equal(textOf(none, 'subject'), 'anonymous');
});

t.test('an unreachable gateway JWKS is reported, not thrown', async (t) => {
  const gw = await startFakeGateway();
  await gw.close(); // its port is now closed
  const helpdesk = await startDemoHelpdesk({ gatewayUrl: gw.url });
  t.teardown(helpdesk.close);
  const html = await (await fetch(`${helpdesk.url}/`, { headers: { 'x-auth-assertion': await gw.sign({}) } })).text();
  t.match(textOf(html, 'assertion'), /^NOT verified: cannot load http:\/\/127\.0\.0\.1:\d+\/\.gatehouse\/jwks\.json/);
});

t.test('header values are escaped', async (t) => {
  const { helpdesk } = await setup(t);
  const html = await (await fetch(`${helpdesk.url}/`, { headers: { 'x-auth-name': '<script>alert(1)</script>' } })).text();
  t.notMatch(html, '<script>alert(1)</script>');
  t.match(html, '&#60;script&#62;alert(1)&#60;/script&#62;');
});

t.test('whoami JSON', async (t) => {
  const { helpdesk } = await setup(t);
  for (const path of ['/api/whoami', '/agent/api/whoami']) {
    const res = await fetch(`${helpdesk.url}${path}`, { headers: aliceHeaders });
    t.equal(res.status, 200);
    t.match(res.headers.get('content-type'), /application\/json/);
    t.same(
      await res.json(),
      {
        realm: 'agent',
        subject: 'user-alice',
        email: 'alice@example.com',
        name: 'Alice Agent',
        groups: ['helpdesk-agents', 'tier-2'],
      },
      path,
    );
  }
  const anon = await (await fetch(`${helpdesk.url}/api/whoami`)).json();
  t.same(anon, { realm: null, subject: null, email: null, name: null, groups: [] });

  const posted = await fetch(`${helpdesk.url}/agent/tickets/1`, { method: 'POST', headers: aliceHeaders, body: 'reply=hi' });
  t.match(await posted.json(), { method: 'POST', path: '/agent/tickets/1', subject: 'user-alice' }, 'other methods answer JSON');
});

function wsConversation(url: string, headers: Record<string, string>, send: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const got: string[] = [];
    ws.on('error', reject);
    ws.on('message', (data) => {
      got.push(String(data));
      if (got.length === 1) ws.send(send);
      if (got.length === 2) ws.close();
    });
    ws.on('close', () => resolve(got));
  });
}

t.test('websocket echo', async (t) => {
  const { helpdesk } = await setup(t);
  const wsUrl = helpdesk.url.replace('http:', 'ws:');
  t.same(await wsConversation(`${wsUrl}/agent/ws`, { 'x-auth-subject': 'user-alice' }, 'hi'), ['hello user-alice', 'echo:hi']);
  t.same(await wsConversation(`${wsUrl}/ws`, {}, 'ping'), ['hello anonymous', 'echo:ping']);

  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`${wsUrl}/not-a-socket`);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', () => resolve(-1));
  });
  t.equal(refused, 404, 'upgrade refused outside */ws');
});
