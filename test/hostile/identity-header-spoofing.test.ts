// A client sends the identity headers itself — X-Auth-* in every case, several
// times, with underscores (X_Auth_Subject reaches a PHP/CGI helpdesk as the same
// HTTP_X_AUTH_SUBJECT), a forged X-Auth-Assertion, names listed in Connection —
// on signed-in requests, anonymous public paths and WebSocket upgrades, and with
// a custom identity.header_prefix. The helpdesk must receive exactly the
// gateway's identity headers, once each, with the session's values, and none at
// all on public paths.
import t from 'tap';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startHostileStack, signInVia, rawRequest, type HostileStack } from '../helpers/hostile-provider.js';
import type { CookieJar } from '../helpers/browserless.js';

const SPOOFED = [
  'X-Auth-Subject: admin',
  'x-auth-subject: admin2',
  'X-AUTH-SUBJECT: admin3',
  'X-Auth-Email: ceo@example.com',
  'X-AUTH-EMAIL: ceo2@example.com',
  'X-Auth-Groups: admins',
  'X-Auth-Groups: root',
  'X-Auth-Realm: agent',
  'X-Auth-Name: Mallory',
  'X-Auth-Assertion: eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.',
  'X-Auth-Anything-Else: x',
  'X_Auth_Subject: admin4',
  'x_auth_email: ceo3@example.com',
  'X-Auth_Name: Mallory2',
  'X_AUTH_ASSERTION: forged',
  'X-Remote-User: remote-spoof',
  'X_Remote_User: remote-spoof',
];

function cookieHeader(stack: HostileStack, jar: CookieJar): string {
  return jar
    .all(stack.publicUrl)
    .map((c) => `${c.name}=${c.value}`)
    .join('; ');
}

/** Identity-like headers the upstream received: name judged with _ as - */
function identityHeaders(raw: string[], prefix: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase().replace(/_/g, '-').startsWith(prefix)) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
}

t.test("signed-in requests carry only the gateway's identity headers", async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const { jar } = await signInVia(stack);
  const host = new URL(stack.publicUrl).host;
  const answer = await rawRequest(
    stack.gateway.url,
    [
      `GET /agent/spoof HTTP/1.1`,
      `Host: ${host}`,
      'Accept: application/json',
      `Cookie: ${cookieHeader(stack, jar)}`,
      ...SPOOFED,
      'Connection: close, X-Auth-Subject, X-Auth-Assertion',
      '',
      '',
    ].join('\r\n'),
  );
  t.match(answer, /^HTTP\/1\.1 200 /);
  const seen = stack.upstream.requests.at(-1)!;
  t.equal(seen.url, '/agent/spoof');
  const identity = identityHeaders(seen.rawHeaders, 'x-auth-');
  t.same(
    identity.map(([n]) => n).sort(),
    ['x-auth-assertion', 'x-auth-email', 'x-auth-groups', 'x-auth-name', 'x-auth-realm', 'x-auth-subject'],
    'each identity header exactly once',
  );
  const get = (name: string): string | undefined => identity.find(([n]) => n === name)?.[1];
  t.equal(get('x-auth-subject'), 'hostile-sub-1');
  t.equal(get('x-auth-email'), 'alice@example.com');
  t.equal(get('x-auth-groups'), 'helpdesk-agents');
  t.equal(get('x-auth-name'), 'Alice Agent');
  t.equal(get('x-auth-realm'), 'agent');
  const keys = createRemoteJWKSet(new URL(`${stack.publicUrl}/.gatehouse/jwks.json`));
  const { payload } = await jwtVerify(get('x-auth-assertion')!, keys, { issuer: stack.publicUrl, audience: stack.upstream.url });
  t.equal(payload.sub, 'hostile-sub-1', "the assertion is the gateway's and verifies with the published JWKS");
  t.notOk(
    seen.rawHeaders.some((v) => /admin|ceo|Mallory|forged/.test(v)),
    'no spoofed value anywhere',
  );
});

t.test('anonymous public paths carry no identity headers at all', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const host = new URL(stack.publicUrl).host;
  for (const path of ['/favicon.ico', '/assets/app.js', '/assets/../assets/x.css']) {
    const answer = await rawRequest(stack.gateway.url, [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...SPOOFED, 'Connection: close', '', ''].join('\r\n'));
    t.match(answer, /^HTTP\/1\.1 200 /, `${path} is forwarded`);
    const seen = stack.upstream.requests.at(-1)!;
    t.same(identityHeaders(seen.rawHeaders, 'x-auth-'), [], `${path}: no identity header reaches the helpdesk`);
  }
});

t.test('WebSocket upgrades are stripped the same way', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const { jar } = await signInVia(stack);
  const host = new URL(stack.publicUrl).host;
  const answer = await rawRequest(
    stack.gateway.url,
    [
      'GET /agent/socket HTTP/1.1',
      `Host: ${host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      `Cookie: ${cookieHeader(stack, jar)}`,
      ...SPOOFED,
      '',
      '',
    ].join('\r\n'),
    { untilHead: true },
  );
  t.match(String(answer), /101 Switching Protocols/);
  const seen = stack.upstream.requests.find((r) => r.upgrade)!;
  t.ok(seen, 'the upgrade reached the helpdesk');
  const identity = identityHeaders(seen.rawHeaders, 'x-auth-');
  t.equal(identity.length, 6, 'six identity headers');
  t.equal(identity.find(([n]) => n === 'x-auth-subject')?.[1], 'hostile-sub-1');
  t.notOk(
    seen.rawHeaders.some((v) => /admin|ceo|Mallory|forged/.test(v)),
    'no spoofed value',
  );
});

t.test('a custom header_prefix is stripped too', async (t) => {
  const stack = await startHostileStack({ editYaml: (y) => y.replace('public_paths:', 'identity:\n  header_prefix: X-Remote-\npublic_paths:') });
  t.teardown(() => stack.close());
  const { jar } = await signInVia(stack);
  const host = new URL(stack.publicUrl).host;
  await rawRequest(
    stack.gateway.url,
    [`GET /agent/ HTTP/1.1`, `Host: ${host}`, 'Accept: application/json', `Cookie: ${cookieHeader(stack, jar)}`, ...SPOOFED, 'Connection: close', '', ''].join(
      '\r\n',
    ),
  );
  const seen = stack.upstream.requests.at(-1)!;
  const identity = identityHeaders(seen.rawHeaders, 'x-remote-');
  t.equal(identity.length, 6);
  t.notOk(seen.rawHeaders.includes('remote-spoof'), 'X-Remote-User / X_Remote_User from the client are gone');
  t.equal(identity.find(([n]) => n === 'x-remote-subject')?.[1], 'hostile-sub-1');
});
