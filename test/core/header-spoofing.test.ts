// Identity and forwarding headers a client sends never reach the helpdesk: every
// header with the identity prefix (any case, any count, underscore spellings that
// CGI/PHP servers read as the same variable) and X-Forwarded-*/Forwarded/
// X-Real-IP from a peer that is not a trusted proxy. The gateway sets its own.
import t from 'tap';
import { ALICE, rawRequest, startTestStack } from '../helpers/stack.js';

const SPOOFED: Array<[string, string]> = [
  ['X-Auth-Subject', 'admin'],
  ['x-auth-subject', 'root'],
  ['X-AUTH-REALM', 'agent'],
  ['X-Auth-Email', 'ceo@example.com'],
  ['X-Auth-Email', 'second@example.com'],
  ['x-Auth-Groups', 'helpdesk-admins'],
  ['X-Auth-Assertion', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.'],
  ['X-Auth-Anything-Else', '1'],
  ['X_Auth_Subject', 'underscore-admin'],
  ['x_auth_email', 'underscore@example.com'],
  ['X-Forwarded-For', '203.0.113.66'],
  ['X-Forwarded-Proto', 'https'],
  ['X-Forwarded-Host', 'evil.example'],
  ['X-Forwarded-Port', '443'],
  ['X_Forwarded_For', '203.0.113.67'],
  ['Forwarded', 'for=203.0.113.68;proto=https'],
  ['X-Real-IP', '203.0.113.69'],
];

/** Every header name the helpdesk would read as one of the identity or forwarding headers. */
function normalizedNames(headers: Record<string, string | string[]>): Map<string, string | string[]> {
  return new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase().replace(/_/g, '-'), value]));
}

t.test('spoofed identity and forwarding headers never reach the helpdesk', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const cookie = jar.cookieHeader(`${stack.publicUrl}/agent`)!;
  const host = new URL(stack.publicUrl).host;

  t.test('signed in: only the gateway identity arrives', async (t) => {
    const res = await rawRequest(stack.publicUrl, 'GET', '/agent/api/x', [['Accept', 'application/json'], ['Cookie', cookie], ...SPOOFED]);
    t.equal(res.status, 200);
    const seen = stack.upstream.requests.at(-1)!;
    const names = normalizedNames(seen.headers);
    t.equal(seen.headers['x-auth-subject'], 'user-alice', 'one subject: the signed-in one');
    t.equal(seen.headers['x-auth-realm'], 'agent');
    t.equal(seen.headers['x-auth-email'], 'alice@example.com');
    t.equal(seen.headers['x-auth-groups'], 'helpdesk-agents');
    t.not(seen.headers['x-auth-assertion'], SPOOFED[6]![1]);
    t.notOk(names.has('x-auth-anything-else'));
    t.same(
      Object.keys(seen.headers).filter((n) => /^x_/i.test(n)),
      [],
      'no underscore spelling survives',
    );
    t.equal(seen.rawHeaders.filter((n, i) => i % 2 === 0 && n.toLowerCase() === 'x-auth-subject').length, 1, 'never duplicated');
    t.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'the TCP peer, not the claimed client');
    t.equal(seen.headers['x-forwarded-proto'], 'http');
    t.equal(seen.headers['x-forwarded-host'], host);
    t.notOk(names.has('x-forwarded-port'));
    t.notOk(names.has('forwarded'));
    t.notOk(names.has('x-real-ip'));
  });

  t.test('not signed in (a public path): no identity at all', async (t) => {
    const res = await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', SPOOFED);
    t.equal(res.status, 200);
    const seen = stack.upstream.requests.at(-1)!;
    t.equal(seen.url, '/favicon.ico');
    const names = normalizedNames(seen.headers);
    t.same(
      [...names.keys()].filter((n) => n.startsWith('x-auth-')),
      [],
      'no identity header of any spelling',
    );
    t.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    t.equal(seen.headers['x-forwarded-proto'], 'http');
    t.equal(seen.headers['x-forwarded-host'], host);
    t.notOk(names.has('forwarded'));
    t.notOk(names.has('x-real-ip'));
  });
});
