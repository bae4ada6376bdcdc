// Red-team pass (issue 11): path spellings that a helpdesk might parse
// differently from the gateway, beyond realm-crossing-nginx.test.ts — odd-case
// encoded dot segments, overlong UTF-8 dots and slashes, NUL and tab encodings,
// trailing dots, "/agent/.." edges, ";" in non-prefix segments, "/agent" in the
// query, absolute-form and asterisk request targets, targets without a leading
// slash, raw tabs and spaces in the request line. A user-realm session (bob)
// sends each; what a real nginx as the helpdesk served ($uri, its access log)
// is the ground truth: never an /agent path with bob's identity, never the
// agent realm, never a 5xx.
import t from 'tap';
import { BOB, startTestStack } from '../helpers/stack.js';
import { rawRequest as rawBytes } from '../helpers/hostile-provider.js';
import { startNginxHelpdesk } from '../helpers/nginx-helpdesk.js';

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

t.test('no odd path spelling gets nginx to serve /agent to a user-realm session', async (t) => {
  const nginx = await startNginxHelpdesk();
  t.teardown(() => nginx.close());
  const stack = await startTestStack({ upstreamUrl: nginx.url });
  t.teardown(() => stack.close());
  const bob = (await stack.signIn('/', BOB)).jar.cookieHeader(`${stack.publicUrl}/`)!;
  const host = new URL(stack.publicUrl).host;
  const headers = `Host: ${host}\r\nCookie: ${bob}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`;
  const targets = [
    '/%2e%2E/agent',
    '/x/%2e%2E/agent',
    '/x/%2E%2e/agent/tickets',
    '/.%2e/agent',
    '/%2e/agent',
    '/x/%2e%2e%2f%2e%2e/agent',
    '/%c0%ae%c0%ae/agent',
    '/x/%c0%ae%c0%ae/agent',
    '/x/%c0%af../agent',
    '/x/%e0%80%ae%e0%80%ae/agent',
    '/x/%252e%252e/agent',
    '/agent%00',
    '/x/..%00/agent',
    '/agent%09',
    '/agent%20/',
    '/agent%u002e',
    '/%5cagent',
    '/x%5c..%5cagent',
    '/agent.',
    '/agent./x',
    '/AGENT.',
    '/agent%2e%2e',
    '/x/.../agent',
    '/agent/..',
    '/agent/../',
    '/agent/..%2f',
    '/..',
    '/../agent',
    '/x/../../agent',
    '/x;/../agent',
    '/x/;/../agent',
    '/x;y/..;z/agent',
    '/tickets?x=/agent',
    '/tickets?/../agent',
    '/?/agent',
    '/tickets?x=1;/agent',
    `http://${host}/agent`,
    `http://${host}/agent/tickets`,
    'http://evil.example/agent',
    `https://${host}/agent`,
    `HTTP://${host}/agent`,
    `http://${host}//agent`,
    `http://${host}/x/../agent`,
    `http://${host}`,
    'http:/agent',
    'http:agent',
    `//${host}/agent`,
    '*',
    'agent',
    'agent/tickets',
    '?x',
  ];
  const lines = [
    ...targets.map((target) => `GET ${target} HTTP/1.1`),
    'OPTIONS * HTTP/1.1',
    'GET /agent\t HTTP/1.1',
    'GET /x /../agent HTTP/1.1',
    'GET /x\t/../agent HTTP/1.1',
    'GET /tickets HTTP/1.1 x',
    'GET  /agent HTTP/1.1',
    'GET /agent HTTP/1.0',
  ];
  const before = (await nginx.served()).length;
  const answers = await Promise.all(lines.map((line) => rawBytes(stack.publicUrl, `${line}\r\n${headers}`, { timeoutMs: 3000 })));
  for (const [i, answer] of answers.entries()) {
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1]);
    t.ok(status >= 200 && status < 500, `${JSON.stringify(lines[i])}: answered, not a 5xx (${status})`);
  }
  const served = (await nginx.served()).slice(before);
  t.same(
    served.filter((e) => readsAsAgent(e.uri) || e.realm === 'agent'),
    [],
    'nginx served no /agent path and nothing as the agent realm',
  );
  t.ok(
    served.every((e) => e.subject === 'user-bob'),
    "whatever arrived carried bob's identity",
  );
  // the control: the harness sees an agent path when one does arrive
  t.ok(
    served.some((e) => e.uri === '/agent.' && e.subject === 'user-bob'),
    'control: /agent. (no dot segment to nginx) arrived',
  );
});
