// Adversarial pass on forward-auth (the attack classes of oauth2-proxy's 2025–2026
// advisories), through real nginx and real Caddy running their documented
// snippets: the client names another original request than the one it sends
// (X-Forwarded-Uri, X-Original-URI, X-Original-URL, X-Rewrite-URL, the methods),
// poses as a health check, spoofs the host, hides a path in the query. None of it
// may decide the check or reach the helpdesk: judged only by what the upstream
// received.
import t from 'tap';
import { ALICE, BOB, rawRequest } from '../helpers/stack.js';
import { startFronts, type Front } from './fronts.js';
import { readsAsAgent } from './agent-path.js';

let fronts: Front[];
const cookies = new Map<Front, { alice: string; bob: string }>();
t.before(async () => {
  fronts = await startFronts();
  for (const front of fronts) cookies.set(front, { alice: await front.cookieFor('agent', ALICE), bob: await front.cookieFor('user', BOB) });
});
t.teardown(() => Promise.all(fronts.map((f) => f.close())));

/** Run `attack` through each front; returns what each front's upstream received meanwhile. */
async function through(attack: (front: Front) => Promise<void>): Promise<Map<Front, Front['upstream']['requests']>> {
  const arrived = new Map<Front, Front['upstream']['requests']>();
  for (const front of fronts) {
    const before = front.upstream.requests.length;
    await attack(front);
    arrived.set(front, front.upstream.requests.slice(before));
  }
  return arrived;
}

const OTHER_ORIGINAL = (path: string, host: string): Array<[string, string]> => [
  ['X-Forwarded-Uri', path],
  ['X-Forwarded-Method', 'GET'],
  ['X-Original-URI', path],
  ['X-Original-Method', 'GET'],
  ['X-Original-URL', `http://${host}${path}`],
  ['X-Rewrite-URL', path],
  ['X-Forwarded-Prefix', '/'],
  ['X-Forwarded-Path', path],
];

t.test('a client naming another original request (a public or allowed path) never decides the check', async (t) => {
  const arrived = await through(async (front) => {
    const host = new URL(front.publicUrl).host;
    const { bob } = cookies.get(front)!;
    for (const named of ['/favicon.ico', '/tickets', '/']) {
      const anonymous = await rawRequest(front.publicUrl, 'GET', '/agent/admin', [['Accept', 'application/json'], ...OTHER_ORIGINAL(named, host)]);
      t.ok([401, 403].includes(anonymous.status), `${front.name}: anonymous /agent/admin naming ${named}: refused (${anonymous.status})`);
      const user = await rawRequest(front.publicUrl, 'GET', '/agent/admin', [['Cookie', bob], ['Accept', 'application/json'], ...OTHER_ORIGINAL(named, host)]);
      t.ok([401, 403].includes(user.status), `${front.name}: bob's /agent/admin naming ${named}: refused (${user.status})`);
    }
  });
  for (const [front, requests] of arrived)
    t.same(
      requests.map((r) => r.url),
      [],
      `${front.name}: nothing reached the helpdesk`,
    );
});

t.test('path overrides a helpdesk framework would believe (X-Original-URL, X-Rewrite-URL) never reach it', async (t) => {
  const arrived = await through(async (front) => {
    const host = new URL(front.publicUrl).host;
    const { bob } = cookies.get(front)!;
    const res = await rawRequest(front.publicUrl, 'GET', '/tickets', [
      ['Cookie', bob],
      ['Accept', 'application/json'],
      ...OTHER_ORIGINAL('/agent/admin', host),
    ]);
    t.equal(res.status, 200, `${front.name}: bob's own /tickets is served`);
  });
  for (const [front, requests] of arrived) {
    t.equal(requests.length, 1, `${front.name}: one request arrived`);
    const [got] = requests;
    t.equal(got?.url, '/tickets', `${front.name}: at the path that was judged`);
    t.equal(got?.headers['x-auth-realm'], 'user');
    for (const name of ['x-original-url', 'x-rewrite-url', 'x-original-uri', 'x-forwarded-uri']) {
      t.equal(got?.headers[name], undefined, `${front.name}: no ${name} (Symfony and IIS route by X-Original-URL / X-Rewrite-URL)`);
    }
  }
});

t.test('a health-check User-Agent or path skips nothing', async (t) => {
  const agents = [
    'kube-probe/1.29',
    'ELB-HealthChecker/2.0',
    'GoogleHC/1.0',
    'Amazon-Route53-Health-Check-Service (ref x)',
    'Prometheus/2.51.0',
    'oauth2-proxy healthcheck',
    'Consul Health Check',
    'Pingdom.com_bot_version_1.4',
  ];
  const arrived = await through(async (front) => {
    for (const agent of agents) {
      const res = await rawRequest(front.publicUrl, 'GET', '/agent/tickets', [
        ['User-Agent', agent],
        ['Accept', 'application/json'],
      ]);
      t.equal(res.status, 401, `${front.name}: ${agent}: not signed in`);
    }
    for (const path of ['/ping', '/healthz', '/ready', '/readyz', '/health', '/agent/ping', '/agent/healthz', '/robots.txt']) {
      const res = await rawRequest(front.publicUrl, 'GET', path, [
        ['User-Agent', 'kube-probe/1.29'],
        ['Accept', 'application/json'],
      ]);
      t.equal(res.status, 401, `${front.name}: ${path}: not signed in`);
    }
    const probe = await rawRequest(front.publicUrl, 'GET', '/.gatehouse/healthz', [['User-Agent', 'kube-probe/1.29']]);
    t.equal(probe.status, 200, `${front.name}: Gatehouse's own probe answers (by Gatehouse)`);
  });
  for (const [front, requests] of arrived)
    t.same(
      requests.map((r) => r.url),
      [],
      `${front.name}: nothing reached the helpdesk`,
    );
});

t.test('a spoofed host: the sign-in is never sent elsewhere, another Host is never forwarded', async (t) => {
  const arrived = await through(async (front) => {
    const nav = await rawRequest(front.publicUrl, 'GET', '/agent/tickets', [
      ['X-Forwarded-Host', 'evil.example'],
      ['X-Forwarded-Proto', 'https'],
      ['Accept', 'text/html'],
      ['Sec-Fetch-Mode', 'navigate'],
    ]);
    t.equal(nav.status, 302, `${front.name}: a navigation is sent to sign in`);
    t.notMatch(String(nav.headers.location), /evil/, `${front.name}: not by way of the spoofed host (${String(nav.headers.location).slice(0, 90)})`);
    const script = await rawRequest(front.publicUrl, 'GET', '/agent/api', [
      ['X-Forwarded-Host', 'evil.example'],
      ['Accept', 'application/json'],
    ]);
    t.notMatch(String(script.headers['x-gatehouse-login']) + script.body, /evil/, `${front.name}: nor is a script told to go there`);
    const { alice } = cookies.get(front)!;
    const other = await rawRequest(front.publicUrl, 'GET', '/agent/tickets', [
      ['Host', 'evil.example'],
      ['Cookie', alice],
      ['Accept', 'application/json'],
    ]);
    // (nginx: Gatehouse's 421, as a refusal; Caddy: no site of that name, an empty answer of its own)
    t.notMatch(other.body, /x-auth/, `${front.name}: a request naming another host is not forwarded (${other.status})`);
  });
  for (const [front, requests] of arrived)
    t.same(
      requests.map((r) => r.url),
      [],
      `${front.name}: nothing reached the helpdesk`,
    );
});

t.test('the method Gatehouse judges is the one the client used, whatever it claims', async (t) => {
  const arrived = await through(async (front) => {
    const claims: Array<[string, string]> = [
      ['X-Forwarded-Method', 'GET'],
      ['X-Original-Method', 'GET'],
      ['X-HTTP-Method-Override', 'GET'],
      ['X-Method-Override', 'GET'],
    ];
    const post = await rawRequest(front.publicUrl, 'POST', '/agent/tickets', [
      ['Accept', 'text/html'],
      ['Sec-Fetch-Mode', 'navigate'],
      ['Content-Type', 'application/x-www-form-urlencoded'],
      ['Content-Length', '3'],
      ...claims,
    ]);
    t.equal(post.status, 401, `${front.name}: a POST is not a navigation, whatever it claims: 401, no redirect (${post.status})`);
    t.equal(post.headers.location, undefined);
  });
  for (const [front, requests] of arrived)
    t.same(
      requests.map((r) => r.url),
      [],
      `${front.name}: nothing reached the helpdesk`,
    );
});

t.test('an agent path in the query string is the query: it opens nothing and reaches no agent path', async (t) => {
  const arrived = await through(async (front) => {
    const { bob } = cookies.get(front)!;
    for (const target of ['/tickets?/agent', '/tickets?x=/../agent', '/?/../agent', '/favicon.ico?/agent/admin', '/tickets?redirect=/agent/admin']) {
      const res = await rawRequest(front.publicUrl, 'GET', target, [
        ['Cookie', bob],
        ['Accept', 'application/json'],
      ]);
      t.equal(res.status, 200, `${front.name}: ${target}: served as what it is`);
    }
    const anonymous = await rawRequest(front.publicUrl, 'GET', '/agent?/favicon.ico', [['Accept', 'application/json']]);
    t.equal(anonymous.status, 401, `${front.name}: /agent?/favicon.ico is /agent`);
  });
  for (const [front, requests] of arrived) {
    t.equal(requests.length, 5, `${front.name}: the five of bob's arrived`);
    for (const r of requests) {
      t.notOk(readsAsAgent(r.url), `${front.name}: ${r.url} is no agent path`);
      t.not(r.headers['x-auth-realm'], 'agent');
    }
  }
});
