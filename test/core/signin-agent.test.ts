// Full sign-in for the agent realm (login: automatic): a navigation to /agent/...
// goes straight to the provider, comes back through the callback, and lands on
// the page it asked for; the helpdesk receives the identity headers and an
// X-Auth-Assertion that verifies against the gateway's published JWKS.
import t from 'tap';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { ALICE, startTestStack } from '../helpers/stack.js';

t.test('an agent signs in at /agent and the helpdesk receives a verifiable identity', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());

  const flow = await stack.signIn('/agent/tickets/42?tab=notes', ALICE);
  t.equal(flow.final.status, 200, 'lands on the helpdesk page');
  t.equal(flow.final.url, `${stack.publicUrl}/agent/tickets/42?tab=notes`, 'back where the person started, query kept');
  t.match(flow.hops[1], new RegExp(`^${stack.provider.issuer}/auth\\?`), 'automatic login: straight to the provider, no sign-in page');
  t.ok(
    flow.hops.some((h) => h.startsWith(`${stack.publicUrl}/agent/login/authenticate-callback/1?`)),
    'came back through the agent callback',
  );

  const seen = stack.upstream.requests.at(-1)!;
  t.equal(seen.url, '/agent/tickets/42?tab=notes');
  t.equal(seen.headers['x-auth-realm'], 'agent');
  t.equal(seen.headers['x-auth-subject'], 'user-alice');
  t.equal(seen.headers['x-auth-email'], 'alice@example.com');
  t.equal(seen.headers['x-auth-name'], 'Alice Agent');
  t.equal(seen.headers['x-auth-groups'], 'helpdesk-agents');

  const assertion = seen.headers['x-auth-assertion'];
  t.type(assertion, 'string');
  const jwks = createRemoteJWKSet(new URL(`${stack.publicUrl}/.gatehouse/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(assertion as string, jwks, { issuer: stack.publicUrl, audience: stack.upstreamUrl });
  t.equal(protectedHeader.alg, 'ES256', 'the default signing algorithm');
  const published = (await (await fetch(`${stack.publicUrl}/.gatehouse/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
  t.same(
    published.keys.map((k) => k.kid),
    [protectedHeader.kid],
    'signed with the one published key',
  );
  t.equal(payload.iss, new URL(stack.publicUrl).origin, 'iss = public_url origin');
  t.equal(payload.aud, stack.upstreamUrl, 'aud = upstream.url');
  t.equal(payload.sub, 'user-alice');
  t.equal(payload.realm, 'agent');
  t.equal(payload.email, 'alice@example.com');
  t.same(payload.groups, ['helpdesk-agents']);
  t.equal(payload.exp! - payload.iat!, 60, 'exp - iat = assertion_ttl (default 60s)');
  t.type(payload.sid, 'string', 'sid: the provider session');

  // the session is a cookie of the agent realm only, and nothing secret reached the log
  const cookie = flow.jar.get(`${stack.publicUrl}/agent`, stack.cookieName('agent'));
  t.ok(cookie, 'agent session cookie set');
  t.notOk(flow.jar.get(`${stack.publicUrl}/`, stack.cookieName('user')), 'no user-realm session');
  t.ok(
    stack.logs.lines.some((l) => l.audit === 'sign-in' && l.realm === 'agent' && l.sub === 'user-alice'),
    'the sign-in is audited',
  );
  t.notMatch(stack.logs.text(), cookie!.slice(0, 40), 'the session cookie is never logged');
  t.notMatch(stack.logs.text(), (assertion as string).split('.')[1]!.slice(0, 40), 'the assertion is never logged');
});
