// Oversized requests: a header section beyond limits.max_header_bytes (one huge
// header, a huge Cookie, thousands of small headers), a URL or query string
// beyond limits.max_url_bytes (on a realm path, a public path, /.gatehouse/ and
// a callback), a form body beyond 64 KB to the gateway's own endpoints, more
// cookies than any browser sends. Each must be refused with a 4xx (431, 414,
// 413/400) — never forwarded, never a 5xx — and the gateway keeps serving.
import t from 'tap';
import { request } from 'undici';
import { startHostileStack, rawRequest, signInVia, AGENT_CALLBACK } from '../helpers/hostile-provider.js';

const status = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

t.test('oversized headers, cookies, URLs and bodies', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const host = new URL(stack.publicUrl).host;
  const limits = stack.gateway.gw.runtime.limits;
  t.equal(limits.maxHeaderBytes, 16384, 'default max_header_bytes');
  t.equal(limits.maxUrlBytes, 8192, 'default max_url_bytes');
  const get = (target: string, lines: string[] = []): string =>
    [`GET ${target} HTTP/1.1`, `Host: ${host}`, 'Accept: application/json', ...lines, 'Connection: close', '', ''].join('\r\n');
  const cases: Array<[string, string, number[]]> = [
    ['one 20 KB header', get('/favicon.ico', [`X-Big: ${'a'.repeat(20_000)}`]), [431]],
    ['a 20 KB Cookie', get('/agent/', [`Cookie: x=${'a'.repeat(20_000)}`]), [431]],
    [
      '4000 small headers',
      get(
        '/favicon.ico',
        Array.from({ length: 4000 }, (_, i) => `X-${i}: y`),
      ),
      [431],
    ],
    ['a 10 KB query on a realm path', get(`/agent/?q=${'a'.repeat(10_000)}`), [414]],
    ['a 10 KB query on a public path', get(`/favicon.ico?q=${'a'.repeat(10_000)}`), [414]],
    ['a 10 KB path', get(`/agent/${'a'.repeat(10_000)}`), [414]],
    ['a 10 KB rd at /.gatehouse/login', get(`/.gatehouse/login?realm=agent&rd=/${'a'.repeat(10_000)}`), [414]],
    ['a 10 KB callback query', get(`${AGENT_CALLBACK}?code=${'a'.repeat(10_000)}&state=x`), [414]],
    ['a 30 KB URL', get(`/agent/?q=${'a'.repeat(30_000)}`), [414, 431]],
  ];
  for (const [label, bytes, expected] of cases) {
    const before = stack.upstream.requests.length;
    const answer = await rawRequest(stack.gateway.url, bytes);
    t.ok(expected.includes(status(answer)), `${label}: ${status(answer)} (expected ${expected.join(' or ')})`);
    t.equal(stack.upstream.requests.length, before, `${label}: not forwarded`);
  }

  const form = await request(`${stack.gateway.url}/.gatehouse/login`, {
    method: 'POST',
    headers: { host, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: `realm=agent&rd=${'a'.repeat(100_000)}`,
  });
  await form.body.dump();
  t.ok(form.statusCode >= 400 && form.statusCode < 500, `a 100 KB form to /.gatehouse/login: ${form.statusCode}`);

  // many cookies (a sibling subdomain can set them): the bound is the header size, not a count (issue 11),
  // so the session cookie after 150 others is still found
  const { jar } = await signInVia(stack);
  const session = jar
    .all(stack.publicUrl)
    .map((c) => `${c.name}=${c.value}`)
    .join('; ');
  const many = Array.from({ length: 150 }, (_, i) => `c${i}=1`).join('; ');
  const buried = await rawRequest(stack.gateway.url, get('/agent/', [`Cookie: ${many}; ${session}`]));
  t.equal(status(buried), 200, 'a session cookie behind 150 others is found');
  t.equal(status(await rawRequest(stack.gateway.url, get('/agent/', [`Cookie: ${session}`]))), 200, 'the gateway still serves');
});
