// From a peer listed in trusted_proxies, X-Forwarded-For and X-Forwarded-Proto
// are believed: the client address is the right-most untrusted hop, the scheme
// is the proxy's. Identity headers are still stripped: a proxy is trusted for
// where the request came from, never for who the person is.
import t from 'tap';
import { signIn } from '../helpers/browserless.js';
import { ALICE, rawRequest, startTestStack } from '../helpers/stack.js';

t.test('a trusted proxy is believed about the client address and scheme', async (t) => {
  const stack = await startTestStack({ editYaml: (yaml) => yaml.replace('\nupstream:', '\ntrusted_proxies: [127.0.0.1/32]\nupstream:') });
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const cookie = jar.cookieHeader(`${stack.publicUrl}/agent`)!;

  const res = await rawRequest(stack.publicUrl, 'GET', '/agent/api/x', [
    ['Accept', 'application/json'],
    ['Cookie', cookie],
    ['X-Forwarded-For', '203.0.113.9, 198.51.100.23'],
    ['X-Forwarded-Proto', 'https'],
    ['X-Auth-Subject', 'admin'],
  ]);
  t.equal(res.status, 200);
  const seen = stack.upstream.requests.at(-1)!;
  t.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 198.51.100.23, 127.0.0.1', 'the chain is kept and the proxy appended');
  t.equal(seen.headers['x-forwarded-proto'], 'https', 'the scheme the proxy saw');
  t.equal(seen.headers['x-auth-subject'], 'user-alice', 'identity headers are stripped even from a trusted proxy');

  // the client address the gateway believes is the one it audits
  const via = { 'x-forwarded-for': '198.51.100.23', 'x-forwarded-proto': 'https' };
  const flow = await signIn(`${stack.publicUrl}/agent/`, ALICE, { headers: via });
  t.equal(flow.final.status, 200);
  const audit = stack.logs.lines.filter((l) => l.audit === 'sign-in').at(-1)!;
  t.equal(audit.ip, '198.51.100.23', 'X-Forwarded-For from a trusted peer names the client');
});
