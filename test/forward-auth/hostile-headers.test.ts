// Adversarial pass on forward-auth: header smuggling through real nginx and real
// Caddy running their documented snippets. Identity headers sent twice, folded
// (obs-fold), spelled with underscores or mixed separators; httpoxy's Proxy;
// a chunked body that would carry a second request; Gatehouse's own cookies.
// Judged by what the upstream received.
import t from 'tap';
import { ALICE, BOB, rawRequest } from '../helpers/stack.js';
import { rawRequest as rawBytes } from '../helpers/hostile-provider.js';
import { startFronts, identityHeaders, type Front } from './fronts.js';

let fronts: Front[];
const cookies = new Map<Front, { alice: string; bob: string }>();
t.before(async () => {
  fronts = await startFronts();
  for (const front of fronts) cookies.set(front, { alice: await front.cookieFor('agent', ALICE), bob: await front.cookieFor('user', BOB) });
});
t.teardown(() => Promise.all(fronts.map((f) => f.close())));

const BOBS = {
  'x-auth-realm': ['user'],
  'x-auth-subject': ['user-bob'],
  'x-auth-email': ['bob@example.com'],
  'x-auth-name': ['Bob Customer'],
  'x-auth-groups': ['customers'],
};

/** bob's identity exactly: each header once, his values, the assertion his; nothing else named X-Auth-* in any spelling */
function isBobOnly(
  t: { same: (a: unknown, b: unknown, m: string) => unknown; equal: (a: unknown, b: unknown, m: string) => unknown },
  label: string,
  request: { rawHeaders: string[] },
): void {
  const { 'x-auth-assertion': assertion, ...rest } = identityHeaders(request);
  t.same(rest, BOBS, `${label}: bob's identity, once each, nothing forged`);
  t.equal(assertion?.length, 1, `${label}: one assertion`);
}

t.test("identity headers sent twice, in every separator spelling, or with names that only look alike: only Gatehouse's arrive", async (t) => {
  for (const front of fronts) {
    const { bob } = cookies.get(front)!;
    const before = front.upstream.requests.length;
    const forged: Array<[string, string]> = [
      ['X-Auth-Subject', 'user-alice'],
      ['X-Auth-Subject', 'user-carol'],
      ['x-auth-realm', 'agent'],
      ['X-AUTH-GROUPS', 'helpdesk-agents'],
      ['X_Auth_Subject', 'user-alice'],
      ['X-Auth_Subject', 'user-alice'],
      ['X_Auth-Realm', 'agent'],
      ['x_auth_groups', 'helpdesk-agents'],
      ['X-Auth-Assertion', 'forged.jwt.value'],
      ['X-Auth-Role', 'admin'],
    ];
    const res = await rawRequest(front.publicUrl, 'GET', '/tickets/1', [['Cookie', bob], ['Accept', 'application/json'], ...forged]);
    t.equal(res.status, 200, `${front.name}: served`);
    const [got, ...more] = front.upstream.requests.slice(before);
    t.same(more, [], `${front.name}: one request`);
    const { 'x-auth-role': role, ...identity } = identityHeaders(got!);
    isBobOnly(t, front.name, { rawHeaders: Object.entries(identity).flatMap(([n, vs]) => vs.flatMap((v) => [n, v])) });
    // X-Auth-Role is no identity header of Gatehouse's: Caddy's snippet drops every X-Auth-*; nginx can only
    // replace the names it lists (the helpdesk must read only Gatehouse's six)
    if (front.name === 'caddy') t.equal(role, undefined, 'caddy: a made-up X-Auth-* is dropped too');
  }
});

t.test('an obs-folded identity header never smuggles a value in', async (t) => {
  for (const front of fronts) {
    const { bob } = cookies.get(front)!;
    const before = front.upstream.requests.length;
    const host = new URL(front.publicUrl).host;
    const answer = await rawBytes(
      front.publicUrl,
      `GET /tickets/2 HTTP/1.1\r\nHost: ${host}\r\nCookie: ${bob}\r\nAccept: application/json\r\nX-Auth-Groups: customers\r\n helpdesk-agents\r\nX-Auth-Subject: user-bob\r\n\tuser-alice\r\nConnection: close\r\n\r\n`,
      { timeoutMs: 3000 },
    );
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
    t.ok(status === 200 || status === 400, `${front.name}: served or refused as malformed (${status})`);
    for (const got of front.upstream.requests.slice(before)) isBobOnly(t, front.name, got);
  }
});

t.test("httpoxy's Proxy header and client-address claims never reach the helpdesk", async (t) => {
  for (const front of fronts) {
    const { bob } = cookies.get(front)!;
    const before = front.upstream.requests.length;
    await rawRequest(front.publicUrl, 'GET', '/tickets/3', [
      ['Cookie', bob],
      ['Accept', 'application/json'],
      ['Proxy', 'http://evil.example:3128'],
      ['X-Real-IP', '10.0.0.1'],
      ['True-Client-IP', '10.0.0.1'],
      ['X-Client-IP', '10.0.0.1'],
      ['Forwarded', 'for=10.0.0.1'],
    ]);
    const [got] = front.upstream.requests.slice(before);
    t.ok(got, `${front.name}: served`);
    for (const name of ['proxy', 'x-real-ip', 'true-client-ip', 'x-client-ip', 'forwarded'])
      t.equal(got?.headers[name], undefined, `${front.name}: no ${name}`);
    t.notMatch(String(got?.headers['x-forwarded-for']), /10\.0\.0\.1/, `${front.name}: X-Forwarded-For is the proxy's own`);
  }
});

t.test("a chunked body carrying a second request is the first request's body, nothing more", async (t) => {
  for (const front of fronts) {
    const { bob } = cookies.get(front)!;
    const before = front.upstream.requests.length;
    const host = new URL(front.publicUrl).host;
    const smuggled = `GET /agent/admin HTTP/1.1\r\nHost: ${host}\r\nCookie: ${bob}\r\n\r\n`;
    const body = `0\r\n\r\n${smuggled}`;
    const answer = await rawBytes(
      front.publicUrl,
      `POST /tickets/4 HTTP/1.1\r\nHost: ${host}\r\nCookie: ${bob}\r\nAccept: application/json\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      { timeoutMs: 5000 },
    );
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
    t.equal(status, 200, `${front.name}: answered at once, not stuck waiting for a body Gatehouse was never sent (${status})`);
    const arrived = front.upstream.requests.slice(before);
    t.same(
      arrived.map((r) => [r.method, r.url]),
      [['POST', '/tickets/4']],
      `${front.name}: the POST alone, /agent/admin never`,
    );
    t.equal(arrived[0]?.body, body, `${front.name}: the smuggled request is its body`);
    // the connections to Gatehouse are still sound: the next check is answered for what it is
    const next = await rawRequest(front.publicUrl, 'GET', '/tickets/5', [
      ['Cookie', bob],
      ['Accept', 'application/json'],
    ]);
    t.equal(next.status, 200, `${front.name}: the next request is judged as itself`);
  }
});

t.test("Caddy: Gatehouse's own cookies stay between the browser and Gatehouse", async (t) => {
  const front = fronts.find((f) => f.name === 'caddy')!;
  const { alice, bob } = cookies.get(front)!;
  const before = front.upstream.requests.length;
  const res = await rawRequest(front.publicUrl, 'GET', '/agent/tickets', [
    ['Cookie', `helpdesk_sid=abc; ${alice}; ${bob}; gatehouse-login-x=y; theme=dark`],
    ['Accept', 'application/json'],
  ]);
  t.equal(res.status, 200);
  const [got] = front.upstream.requests.slice(before);
  t.equal(got?.headers['x-auth-subject'], 'user-alice', 'signed in as alice');
  const sent = String(got?.headers.cookie ?? '');
  t.notMatch(sent, /gatehouse-/, `no Gatehouse cookie reached the helpdesk (${sent})`);
  t.match(sent, /helpdesk_sid=abc/, "the helpdesk's own cookies did");
  t.match(sent, /theme=dark/);
});
