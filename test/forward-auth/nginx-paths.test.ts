// The path nginx forwards is the path Gatehouse judged. nginx routes by $uri
// (decoded, dot segments resolved, slashes merged) but the snippet forwards the
// request target as it came and has Gatehouse judge that same raw target
// ($request_uri): every spelling trick below is sent byte for byte to a real
// nginx with a user-realm session, and what the upstream received is read the
// ways helpdesks read a path. No user-realm session may ever reach an agent path.
import t from 'tap';
import { rawRequest } from '../helpers/stack.js';
import { signIn } from '../helpers/browserless.js';
import { ALICE, BOB } from '../helpers/stack.js';
import type { RecordedRequest } from '../helpers/upstream.js';
import { startNginxFront, type NginxFront } from './nginx-front.js';

let front: NginxFront;
t.before(async () => {
  front = await startNginxFront();
});
t.teardown(() => front.close());

/** Percent-decoding, once: as a helpdesk decodes (%252e stays %2e, which no helpdesk reads as a dot). */
function decodeOnce(s: string): string {
  return s.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function removeDots(path: string): string {
  const out: string[] = [];
  for (const segment of path.split('/').slice(1)) {
    if (segment === '..') out.pop();
    else if (segment !== '.' && segment !== '') out.push(segment);
  }
  return `/${out.join('/')}`;
}

/**
 * The paths a helpdesk may read out of a request target: as WHATWG URL does, decoded
 * (%2F as /, backslash as /), with `;parameters` cut (servlet containers), not cut
 * at `#` (a naive router), each with dot segments resolved and lower-cased.
 */
function readings(target: string): string[] {
  const noQuery = target.split('?')[0]!;
  const out: string[] = [];
  try {
    out.push(new URL(target, 'http://helpdesk.invalid').pathname);
  } catch {
    /* not a URL for it */
  }
  const decoded = decodeOnce(noQuery).replace(/\\/g, '/');
  out.push(
    decoded,
    decoded.split('#')[0]!,
    decoded
      .split('/')
      .map((seg) => seg.split(';')[0])
      .join('/'),
  );
  return out.map((p) => removeDots(p).toLowerCase());
}

function reachesAgent(request: RecordedRequest): boolean {
  return readings(request.url).some((p) => p === '/agent' || p.startsWith('/agent/'));
}

const TRICKS = [
  '/agent/tickets',
  '/AGENT/tickets',
  '/Agent',
  '/aGeNt/',
  '//agent/tickets',
  '///agent',
  '/./agent/tickets',
  '/x/../agent/tickets',
  '/tickets/../agent/tickets',
  '/%61gent/tickets',
  '/%41GENT',
  '/%2e/agent',
  '/%2E%2E/agent',
  '/tickets/%2e%2e/agent',
  '/tickets/.%2e/agent',
  '/agent%2Ftickets',
  '/tickets%2F..%2Fagent',
  '/tickets/..%2Fagent',
  '/tickets/..%5Cagent',
  '/tickets/..\\agent',
  '/%2Fagent',
  '/agent%00',
  '/agent%00/tickets',
  '/tickets%00/../agent',
  '/agent;x/tickets',
  '/agent;/tickets',
  '/x/..;/agent/tickets',
  '/tickets/..;/agent',
  '/agent%3Bx/tickets',
  '/agent#x',
  '/tickets#/../agent/tickets',
  '/tickets?#/../agent',
  '/tickets/%252e%252e/agent',
  '/%252Fagent',
  '/agent%20/tickets',
  '/agent%09',
  '/tickets/..%00/agent',
  '/.%2e/agent',
  '/agent/',
  '/agent?x=/tickets',
  '/tickets/../../agent',
  '/%c0%ae%c0%ae/agent',
  '/x/%c0%af../agent',
  '/agent/..',
  '/agent/../',
  '/x;/../agent',
  '/x;y/..;z/agent',
  '/tickets?/../agent',
  'http://127.0.0.1/agent',
  '*',
  'agent/tickets',
];

t.test('a user-realm session reaches no agent path at the helpdesk, however the path is spelled', async (t) => {
  const bob = await signIn(`${front.publicUrl}/tickets`, BOB);
  t.equal(bob.final.status, 200, 'Bob signed in (user realm)');
  const cookie = bob.jar.cookieHeader(front.publicUrl)!;
  const before = front.upstream.requests.length;
  const answers: string[] = [];
  for (const path of TRICKS) {
    const res = await rawRequest(front.publicUrl, 'GET', path, [
      ['Cookie', cookie],
      ['Accept', 'application/json'],
    ]);
    answers.push(`${path} → ${res.status}`);
    t.ok(res.status < 500, `${path}: refused or served, never nginx's 500 for an answer it cannot pass on (${res.status})`);
  }
  // the control: the tricks did not all fail for some unrelated reason
  const control = await rawRequest(front.publicUrl, 'GET', '/tickets/7', [
    ['Cookie', cookie],
    ['Accept', 'application/json'],
  ]);
  t.equal(control.status, 200, 'a user path is served');
  const received = front.upstream.requests.slice(before);
  t.ok(
    received.some((r) => r.url === '/tickets/7' && r.headers['x-auth-subject'] === 'user-bob'),
    "with Bob's identity",
  );
  const agentPaths = received.filter(reachesAgent);
  t.same(
    agentPaths.map((r) => [r.url, r.headers['x-auth-realm']]),
    [],
    `no request reached an agent path (${answers.join(', ')})`,
  );
  t.ok(
    received.every((r) => r.headers['x-auth-realm'] === 'user' || r.headers['x-auth-realm'] === undefined),
    "only Bob's realm",
  );
});

t.test('an agent session reaches the agent paths it may, with the path Gatehouse judged', async (t) => {
  const alice = await signIn(`${front.publicUrl}/agent/`, ALICE);
  t.equal(alice.final.status, 200);
  const cookie = alice.jar.cookieHeader(front.publicUrl)!;
  const forwarded: Array<[string, string]> = [
    ['/AGENT/tickets', '/AGENT/tickets'],
    ['/agent/./x', '/agent/./x'],
    ['/agent/tickets?q=%2F', '/agent/tickets?q=%2F'],
  ];
  for (const [sent, expected] of forwarded) {
    const before = front.upstream.requests.length;
    const res = await rawRequest(front.publicUrl, 'GET', sent, [
      ['Cookie', cookie],
      ['Accept', 'application/json'],
    ]);
    t.equal(res.status, 200, `${sent}: served`);
    const [got] = front.upstream.requests.slice(before);
    t.equal(got?.url, expected, `${sent}: nginx forwarded the target as it came (the one Gatehouse judged)`);
    t.equal(got?.headers['x-auth-realm'], 'agent');
  }
});
