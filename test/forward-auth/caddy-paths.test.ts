// Path tricks through real Caddy in front (docs/snippets/caddy-forward-auth.Caddyfile):
// a user-realm session (bob) sends every spelling of an agent path we know of —
// encoded slash, dot segments plain and encoded, `#`, `;`, case, `//`, NUL,
// backslash, overlong UTF-8, fullwidth Unicode, query-string tricks, absolute
// form. The ground truth is what the upstream received: never an agent path as
// any helpdesk might read it, never anything as the agent realm. And Caddy tells
// Gatehouse the very target it forwards: for every request that arrived, the
// X-Forwarded-Uri Caddy wrote on the wire to Gatehouse (seen by a TCP relay in
// between) is byte for byte the target the upstream got. Caddy forwards the raw
// target ({uri}: not decoded, dot segments and `//` kept), re-encoding only what
// Go's URL parser changes (a backslash becomes %5C), identically on both sides.
import t from 'tap';
import { BOB, rawRequest } from '../helpers/stack.js';
import { startCaddyForwardAuth, type Caddy } from '../helpers/caddy.js';
import { startForwardAuthStack, type ForwardAuthStack } from '../helpers/forward-auth-stack.js';
import { startTcpTap, type TcpTap } from '../helpers/tcp-tap.js';
import { readsAsAgent } from './agent-path.js';

let tap: TcpTap;
let stack: ForwardAuthStack<Caddy>;
t.before(async () => {
  stack = await startForwardAuthStack({
    proxy: async (addresses) => {
      tap = await startTcpTap(addresses.gateway);
      const caddy = await startCaddyForwardAuth({ ...addresses, gateway: tap.address });
      return {
        ...caddy,
        close: async () => {
          await caddy.close();
          await tap.close();
        },
      };
    },
  });
});
t.teardown(() => stack.close());

t.test('the harness: readsAsAgent sees an agent path in the spellings a helpdesk may decode', async (t) => {
  for (const path of [
    '/agent',
    '/AGENT/x',
    '/x/../agent',
    '/x/%2e%2e/agent',
    '/x%2f..%2fagent',
    '/x\\..\\agent',
    '/x%5c..%5cagent',
    '/x;y/..;z/agent',
    '/agent%00.png',
    '//agent',
    '/agent#x',
    'http://h/x/../agent',
  ]) {
    t.ok(readsAsAgent(path), path);
  }
  // (a second decoding, overlong UTF-8 and fullwidth forms: no current server routes by them)
  for (const path of ['/tickets', '/agents', '/x/agent-help', '/tickets?x=/agent', '/x/%252e%252e/agent', '/%c0%ae%c0%ae/agent', '/%EF%BC%A1gent'])
    t.notOk(readsAsAgent(path), path);
});

t.test('no spelling of an agent path reaches the upstream with a user-realm session, and Caddy forwards the target it asked about', async (t) => {
  const bob = (await stack.signIn('/.gatehouse/login?realm=user&rd=/tickets', BOB)).jar.cookieHeader(`${stack.publicUrl}/`)!;
  const host = new URL(stack.publicUrl).host;
  const targets = [
    '/agent',
    '/AGENT',
    '/Agent/tickets',
    '/aGeNt',
    '/%61gent',
    '/%41GENT',
    '/agent/',
    '/agent.',
    '//agent',
    '///agent/x',
    '/x//../agent',
    '/./agent',
    '/x/../agent',
    '/x/./../agent',
    '/x/y/../../agent',
    '/%2e%2e/agent',
    '/x/%2e%2e/agent',
    '/x/%2E%2e/agent',
    '/x/.%2e/agent',
    '/%2e/agent',
    '/x/%252e%252e/agent',
    '/x%2f..%2fagent',
    '/x/..%2fagent',
    '/agent%2f',
    '/x%2F%2E%2E%2Fagent',
    '/%2fagent',
    '/x%5c..%5cagent',
    '/%5cagent',
    '/x\\..\\agent',
    '/\\agent',
    '/agent;x',
    '/agent;/x',
    '/x;/../agent',
    '/x/..;/agent',
    '/x;y/..;z/agent',
    '/x%3b/../agent',
    '/agent%3bx',
    '/agent#x',
    '/x#/../agent',
    '/x/%23/../agent',
    '/tickets#/agent',
    '/agent%00',
    '/x%00/../agent',
    '/agent%00.png',
    '/x/..%00/agent',
    '/agent%09',
    '/agent%20',
    '/agent%0a',
    '/%c0%ae%c0%ae/agent',
    '/x/%c0%ae%c0%ae/agent',
    '/x%c0%af..%c0%afagent',
    '/x/%e0%80%ae%e0%80%ae/agent',
    '/%ef%bc%a1gent',
    '/x%ef%bc%8f..%ef%bc%8fagent',
    '/x/%e2%80%a5/agent',
    '/tickets?/agent',
    '/tickets?x=/../agent',
    '/?/../agent',
    '/x?y=1#/../agent',
    `http://${host}/agent`,
    `http://${host}/x/../agent`,
    'http://evil.example/agent',
    '*',
    '/tickets',
  ];
  const results: Array<{ target: string; status: number; asked: string[]; arrived: Array<{ url: string; realm: unknown; subject: unknown }> }> = [];
  for (const target of targets) {
    const askedBefore = tap.headerValues('x-forwarded-uri').length;
    const arrivedBefore = stack.upstream.requests.length;
    const res = await rawRequest(stack.publicUrl, 'GET', target, [
      ['Cookie', bob],
      ['Accept', 'application/json'],
    ]).catch((error: Error) => ({ status: -1, body: error.message }));
    results.push({
      target,
      status: res.status,
      asked: tap.headerValues('x-forwarded-uri').slice(askedBefore),
      arrived: stack.upstream.requests
        .slice(arrivedBefore)
        .map((r) => ({ url: r.url, realm: r.headers['x-auth-realm'], subject: r.headers['x-auth-subject'] })),
    });
  }
  for (const r of results) {
    t.ok(r.status === -1 || r.status < 500, `${JSON.stringify(r.target)}: not a 5xx (${r.status})`);
    for (const arrived of r.arrived) {
      t.notOk(readsAsAgent(arrived.url), `${JSON.stringify(r.target)}: the upstream got ${JSON.stringify(arrived.url)}, not an agent path`);
      t.equal(arrived.realm, 'user', `${JSON.stringify(r.target)}: as the user realm`);
      t.equal(arrived.subject, 'user-bob');
      t.same(r.asked, [arrived.url], `${JSON.stringify(r.target)}: Caddy asked about exactly the target it forwarded`);
    }
  }
  const served = results.filter((r) => r.arrived.length > 0);
  t.ok(
    served.some((r) => r.target === '/tickets'),
    'control: an ordinary user path arrived',
  );
  t.ok(
    served.some((r) => r.target === '/agent.'),
    'control: /agent. (no dot segment to anyone) arrived, and the check above saw it',
  );
  t.ok(
    served.some((r) => r.target === '/x%c0%af..%c0%afagent' || r.target === '/tickets?/agent'),
    'control: targets Gatehouse does not refuse arrive as they were sent',
  );
  t.comment(`served: ${served.map((r) => `${r.target} -> ${r.arrived[0]!.url}`).join(' | ')}`);
});
