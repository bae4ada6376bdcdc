// The provider puts CR, LF, NUL and other control characters, header syntax,
// non-ASCII text and huge values into the claims that become identity headers
// (sub, email, name, groups). The helpdesk must receive one request with one
// header per identity field: no injected header, no split request, no invalid
// byte; the gateway must not answer 5xx. The signed assertion keeps the exact
// claim values.
import t from 'tap';
import { decodeJwt } from 'jose';
import { Agent, setGlobalDispatcher } from 'undici';
import { startHostileStack, signInVia, fetchAsScript, rawRequest } from '../helpers/hostile-provider.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: the assertion is that no header holds one (tab is allowed)
const CONTROL_CHARACTER = /[\u0000-\u0008\u000a-\u001f\u007f]/;

const HOSTILE_PROFILES: Array<[string, Record<string, unknown>]> = [
  [
    'CRLF header injection',
    {
      sub: 'sub-1\r\nX-Injected: sub',
      email: 'a@example.com\r\nX-Injected: email',
      name: 'Eve\r\nX-Auth-Subject: admin',
      groups: ['helpdesk-agents\r\nX-Injected: group', 'g2'],
    },
  ],
  ['request splitting', { name: 'Eve\r\n\r\nGET /agent/injected HTTP/1.1\r\nHost: x\r\n\r\n', email: 'b@example.com\n\nX-Injected: lf' }],
  ['lone CR and LF', { name: 'a\rb\nc', email: 'c@example.com\r' }],
  ['NUL, DEL and other controls', { name: 'nul\u0000del\u007fbell\u0007esc\u001b', email: 'd@example.com\u0000X-Injected: nul' }],
  ['unicode and line separators', { sub: 'süb-🙂', name: 'Zoë\u2028Ångström\u2029🙂 \u0085next', email: 'zoë@exämple.com' }],
  ['latin1 and high bytes', { name: '\u00ff\u00fe\u0080\u009f', groups: ['ß', 'ü'] }],
  // a 5 KB name (the header is cut at 4 KB; the assertion keeps it whole) and 100 groups:
  // within what the test helpdesk (Node, 16 KB of headers) accepts
  ['huge values', { name: 'N'.repeat(5_000), groups: Array.from({ length: 100 }, (_, i) => `group-${i}`) }],
  ['non-string claims', { name: { first: 'x' }, email: 42, groups: 'a,b\r\nX-Injected: g' }],
];

// a session this large is several cookie chunks: let this test's client read long Set-Cookie answers
setGlobalDispatcher(new Agent({ maxHeaderSize: 256 * 1024 }));

t.test('hostile claims never split or corrupt a header upstream', async (t) => {
  const stack = await startHostileStack({ editYaml: (y) => y.replace('limits:\n', 'limits:\n  max_header_bytes: 131072\n') });
  t.teardown(() => stack.close());
  const base = { ...stack.provider.profile };
  for (const [label, profile] of HOSTILE_PROFILES) {
    stack.provider.profile = { ...base, ...profile };
    stack.provider.subject = typeof profile.sub === 'string' ? profile.sub : 'hostile-sub-1';
    const { jar, callback } = await signInVia(stack);
    t.equal(callback.status, 302, `${label}: signed in`);
    const before = stack.upstream.requests.length;
    const answer = await fetchAsScript(stack, '/agent/check', jar);
    t.equal(answer.status, 200, `${label}: forwarded, no 5xx`);
    const arrived = stack.upstream.requests.slice(before);
    t.equal(arrived.length, 1, `${label}: exactly one request upstream`);
    const raw = arrived[0]!.rawHeaders;
    const names = raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    t.notOk(names.includes('x-injected'), `${label}: no injected header`);
    t.equal(names.filter((n) => n === 'x-auth-subject').length, 1, `${label}: one X-Auth-Subject`);
    t.notOk(
      raw.some((v) => CONTROL_CHARACTER.test(v)),
      `${label}: no control character in any header`,
    );
    t.notOk(
      stack.upstream.requests.some((r) => r.url.includes('injected')),
      `${label}: no split request`,
    );
    const assertion = arrived[0]!.headers['x-auth-assertion'] as string;
    t.equal(decodeJwt(assertion).sub, stack.provider.subject, `${label}: the assertion carries the exact sub`);
  }
  // raw check once more on the wire: the identity header block is well-formed HTTP
  const host = new URL(stack.publicUrl).host;
  t.match(await rawRequest(stack.gateway.url, `GET /favicon.ico HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200 /);
});
