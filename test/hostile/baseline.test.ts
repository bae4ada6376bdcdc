// The baseline every hostile case departs from: the hand-written provider
// behaving correctly, with each of its key types. If this fails, the harness is
// broken and the refusals the other files see prove nothing.
import t from 'tap';
import { startHostileStack, signInVia, fetchAsScript, type KeyAlg } from '../helpers/hostile-provider.js';

t.test('a correct provider signs an agent in, with RS256, ES256 and EdDSA ID tokens', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  for (const alg of ['RS256', 'ES256', 'EdDSA'] as KeyAlg[]) {
    stack.provider.signingAlg = alg;
    const { jar, callback } = await signInVia(stack, '/agent/tickets?x=1');
    t.equal(callback.status, 302, `${alg}: callback redirects`);
    t.equal(callback.headers.location, '/agent/tickets?x=1', `${alg}: back where the person started`);
    const page = await fetchAsScript(stack, '/agent/tickets', jar);
    t.equal(page.status, 200, `${alg}: signed in`);
    const seen = stack.upstream.requests.at(-1)!;
    t.equal(seen.headers['x-auth-subject'], 'hostile-sub-1');
    t.equal(seen.headers['x-auth-realm'], 'agent');
    t.equal(seen.headers['x-auth-email'], 'alice@example.com');
  }
  t.equal(stack.provider.counts.token, 3);
});
