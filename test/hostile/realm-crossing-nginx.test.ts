// Realm crossing judged by a real nginx as the helpdesk: a user-realm session
// (bob) sends the agent area's path spelled every way we know — fragments,
// ";" path parameters, dot segments, encoded dots and slashes, backslashes,
// case. The gateway must either refuse the request or have nginx serve a path
// that is not under /agent; what nginx served (its access log: $uri as nginx
// parsed it) is the ground truth, read the way nginx routes ($uri as is) and
// the way a servlet container behind it routes (";params" cut from each
// segment, then dot segments resolved), case-insensitively.
import t from 'tap';
import { ALICE, BOB, rawRequest, startTestStack } from '../helpers/stack.js';
import { rawRequest as rawBytes } from '../helpers/hostile-provider.js';
import { startNginxHelpdesk, type Entry } from '../helpers/nginx-helpdesk.js';

/** Is a path nginx served under /agent, as nginx or a servlet container behind it would route it? */
function readsAsAgent(uri: string): boolean {
  const out: string[] = [];
  const segments = uri
    .toLowerCase()
    .split('/')
    .slice(1)
    .map((s) => s.split(';')[0]!);
  for (const [i, s] of segments.entries()) {
    if (s === '..') out.pop();
    else if (s !== '.' && (s !== '' || i === segments.length - 1)) out.push(s);
  }
  const path = `/${out.join('/')}`;
  return path === '/agent' || path.startsWith('/agent/');
}

const SPELLINGS = [
  // a fragment: nginx, WHATWG URL and PHP cut the path at "#"
  '/agent#x',
  '/agent#/tickets',
  '/agent/#',
  '/agent#?x=1',
  '/x#/../agent',
  '/tickets?q=1#x',
  // ";" path parameters in the prefix segment, and on dot segments (servlet containers cut them)
  '/agent;x',
  '/agent;',
  '/agent;/',
  '/agent;x/tickets',
  '/Agent;jsessionid=1/tickets',
  '/agent%3Bx',
  '/agent%3b/tickets',
  '/x/..;/agent',
  '/x/..;/agent/tickets',
  '/agent/..;/agent',
  '/x/.;/../agent',
  '/;/agent',
  '/;x/agent',
  '/x/..%3B/agent',
  // case, slashes, dot segments, encodings
  '/AGENT',
  '/Agent/tickets',
  '//agent',
  '///agent/tickets',
  '/./agent',
  '/x/../agent',
  '/agent/..;/',
  '/agent/.',
  '/%2e%2e/agent',
  '/x/%2e%2e/agent',
  '/x/.%2e/agent',
  '/x/%2E./agent',
  '/%61gent',
  '/%61%67%65%6e%74/tickets',
  '/agent%2Fx',
  '/x%2F..%2Fagent',
  '/x%2f%2e%2e%2fagent',
  '/agent%5Cx',
  '/x\\..\\agent',
  '/agent\\',
  '/agent%00',
  '/agent%23x',
  '/agent%3Fx',
  '/agent%2e',
  '/agent%20',
  '/agents',
];

t.test('a user-realm session never gets nginx to serve an /agent path', async (t) => {
  const nginx = await startNginxHelpdesk();
  t.teardown(() => nginx.close());
  const stack = await startTestStack({ upstreamUrl: nginx.url });
  t.teardown(() => stack.close());
  const bob = (await stack.signIn('/', BOB)).jar.cookieHeader(`${stack.publicUrl}/`)!;
  const alice = (await stack.signIn('/agent/', ALICE)).jar.cookieHeader(`${stack.publicUrl}/agent/`)!;
  const json: [string, string] = ['Accept', 'application/json'];

  // the harness sees identity and agent paths when they do arrive
  let seen = (await nginx.served()).length;
  const controls: Array<[string, string, (e: Entry) => boolean]> = [
    [bob, '/tickets', (e) => e.uri === '/tickets' && e.subject === 'user-bob' && e.realm === 'user'],
    [alice, '/agent/tickets', (e) => e.uri === '/agent/tickets' && e.subject === 'user-alice' && e.realm === 'agent' && readsAsAgent(e.uri)],
  ];
  for (const [cookie, path, expected] of controls) {
    const res = await rawRequest(stack.publicUrl, 'GET', path, [json, ['Cookie', cookie]]);
    t.equal(res.status, 200, `control ${path}: forwarded`);
    const served = (await nginx.served()).slice(seen);
    seen += served.length;
    t.ok(served.length === 1 && expected(served[0]!), `control ${path}: nginx served it with the identity (${JSON.stringify(served)})`);
  }

  for (const path of SPELLINGS) {
    const res = await rawRequest(stack.publicUrl, 'GET', path, [json, ['Cookie', bob]]);
    const served = (await nginx.served()).slice(seen);
    seen += served.length;
    const crossed = served.filter((e) => e.subject !== '' && readsAsAgent(e.uri));
    t.same(
      crossed,
      [],
      `${path}: nginx served no /agent path with bob's identity (gateway: ${res.status}, nginx: ${JSON.stringify(served.map((e) => e.uri))})`,
    );
    if (served.length === 0) t.ok(res.status >= 400 && res.status < 500, `${path}: refused by the gateway (${res.status})`);
    else
      t.ok(
        served.every((e) => e.realm !== 'agent'),
        `${path}: never forwarded as the agent realm`,
      );
  }
});

t.test('nor as a WebSocket upgrade (nginx proxies .../ws to a WebSocket backend)', async (t) => {
  const nginx = await startNginxHelpdesk();
  t.teardown(() => nginx.close());
  const stack = await startTestStack({ upstreamUrl: nginx.url });
  t.teardown(() => stack.close());
  const bob = (await stack.signIn('/', BOB)).jar.cookieHeader(`${stack.publicUrl}/`)!;
  const host = new URL(stack.publicUrl).host;
  const before = (await nginx.served()).length;
  let opened = 0;
  const targets = [...SPELLINGS, ...SPELLINGS.filter((p) => !p.includes('?')).map((p) => `${p.replace(/\/$/, '')}/ws`), '/ws'];
  for (const path of targets) {
    const bytes =
      [
        `GET ${path} HTTP/1.1`,
        `Host: ${host}`,
        `Cookie: ${bob}`,
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      ].join('\r\n') + '\r\n\r\n';
    const answer = await rawBytes(stack.publicUrl, bytes, { untilHead: true, timeoutMs: 3000 });
    if (answer.startsWith('HTTP/1.1 101 ')) opened++;
  }
  t.ok(opened >= 1, `the control /ws opened (${opened} opened)`);
  // nginx logs a WebSocket when it closes: wait until every opened one is in the log
  let served: Entry[] = [];
  for (let attempt = 0; ; attempt++) {
    served = (await nginx.served()).slice(before);
    if (served.filter((e) => e.status === 101).length >= opened) break;
    if (attempt > 200) throw new Error(`nginx logged fewer WebSockets than opened (${opened})`);
  }
  t.same(
    served.filter((e) => e.subject !== '' && readsAsAgent(e.uri)),
    [],
    "nginx served no /agent path with bob's identity",
  );
  t.ok(
    served.some((e) => e.uri === '/ws' && e.status === 101 && e.subject === 'user-bob'),
    "the control: bob's own WebSocket reached the backend",
  );
});

t.test('the ambiguous spellings are refused with GH_AMBIGUOUS_PATH, for everyone', async (t) => {
  const nginx = await startNginxHelpdesk();
  t.teardown(() => nginx.close());
  const stack = await startTestStack({ upstreamUrl: nginx.url });
  t.teardown(() => stack.close());
  const alice = (await stack.signIn('/agent/', ALICE)).jar.cookieHeader(`${stack.publicUrl}/agent/`)!;
  const before = (await nginx.served()).length;
  for (const path of ['/agent#x', '/tickets#x', '/tickets?q=1#x', '/agent;x', '/agent;', '/agent%3Bx/tickets', '/x/..;/agent', '/agent/..;/', '/;x/agent']) {
    for (const headers of [
      [['Accept', 'application/json']],
      [
        ['Accept', 'application/json'],
        ['Cookie', alice],
      ],
    ] as Array<Array<[string, string]>>) {
      const res = await rawRequest(stack.publicUrl, 'GET', path, headers);
      t.equal(res.status, 400, `${path}: 400`);
      t.equal(JSON.parse(res.body).error, 'GH_AMBIGUOUS_PATH', `${path}: GH_AMBIGUOUS_PATH`);
    }
  }
  t.equal((await nginx.served()).length, before, 'none reached nginx');
  // ";" where no parser reads it as a realm boundary stays as it was
  const res = await rawRequest(stack.publicUrl, 'GET', '/agent/tickets;v=2', [
    ['Accept', 'application/json'],
    ['Cookie', alice],
  ]);
  t.equal(res.status, 200, '/agent/tickets;v=2 is forwarded');
  t.equal((await nginx.served()).at(-1)?.uri, '/agent/tickets;v=2');
});

t.test('nor does a public path spelled to reach /agent, anonymously', async (t) => {
  const nginx = await startNginxHelpdesk();
  t.teardown(() => nginx.close());
  const stack = await startTestStack({ upstreamUrl: nginx.url, editYaml: (y) => y.replace('public_paths:\n', 'public_paths:\n  - /assets/**\n') });
  t.teardown(() => stack.close());
  const json: [string, string] = ['Accept', 'application/json'];
  const control = await rawRequest(stack.publicUrl, 'GET', '/assets/app.js', [json]);
  t.equal(control.status, 200, 'control: the public path is forwarded without a session');
  const before = (await nginx.served()).length;
  for (const path of [
    '/assets/..;/agent',
    '/assets/..;/agent/tickets',
    '/assets/x/..;/..;/agent',
    '/assets%3B/../agent',
    '/assets/..%3B/agent',
    '/assets#/../agent',
  ]) {
    const res = await rawRequest(stack.publicUrl, 'GET', path, [json]);
    t.ok(res.status === 400 || res.status === 401, `${path}: refused or sent to sign in (${res.status})`);
  }
  const served = (await nginx.served()).slice(before);
  t.same(
    served.filter((e) => readsAsAgent(e.uri)),
    [],
    'nginx served no /agent path to an anonymous client',
  );
});
