// The provider sends claims too large for a session cookie (a near-16 KB ID token
// with hundreds of long group names — the "groups overage" real providers have —,
// or a userinfo answer with 40 KB of groups). A session the browser cannot send
// back in its cookie chunks would send the person round the sign-in loop forever.
// Gatehouse must drop the stored ID token to make it fit and sign in; when the
// claims alone are too large, answer GH_TOKEN_RESPONSE_INVALID (502) once, with
// no session cookie set.
import t from 'tap';
import { Agent, setGlobalDispatcher } from 'undici';
import { startHostileStack, signInVia, fetchAsScript, expectSignInRefused } from '../helpers/hostile-provider.js';

// the Set-Cookie answer of a many-chunk session is larger than undici reads by default
setGlobalDispatcher(new Agent({ maxHeaderSize: 256 * 1024 }));
const roomy = (yaml: string): string => yaml.replace('limits:\n', 'limits:\n  max_header_bytes: 65536\n');

t.test('an ID token too large to keep in the session', async (t) => {
  const stack = await startHostileStack({ editYaml: roomy });
  t.teardown(() => stack.close());
  stack.provider.profile = {
    ...stack.provider.profile,
    groups: Array.from({ length: 180 }, (_, i) => `helpdesk-group-with-a-rather-long-name-${String(i).padStart(4, '0')}`),
  };
  const { jar, callback } = await signInVia(stack);
  t.equal(callback.status, 302, 'signed in');
  const chunks = jar.all(stack.publicUrl).filter((c) => c.name.startsWith('gatehouse-agent'));
  t.ok(chunks.length <= 8, `${chunks.length} chunks: within what is read back`);
  const page = await fetchAsScript(stack, '/agent/', jar);
  t.equal(page.status, 200, 'and the session works on the next request (no sign-in loop)');
  t.match(String(stack.upstream.requests.at(-1)!.headers['x-auth-groups']), /^helpdesk-group-with-a-rather-long-name-0000,/);
});

t.test('claims too large for any session', async (t) => {
  const stack = await startHostileStack({
    editYaml: (y) =>
      roomy(y).replace('client_secret: hostile-agent-secret-0123456789abcdef', 'client_secret: hostile-agent-secret-0123456789abcdef\n      userinfo: true'),
  });
  t.teardown(() => stack.close());
  stack.provider.forgeIdToken = (ctx) => {
    const { groups: _drop, ...claims } = ctx.claims;
    return ctx.sign(claims);
  };
  stack.provider.onUserinfo = (info) => ({ body: { ...info, groups: Array.from({ length: 200 }, (_, i) => `g${i}-${'x'.repeat(200)}`) } });
  const page = await expectSignInRefused(t, stack, 'GH_TOKEN_RESPONSE_INVALID');
  const lines = [page.headers['set-cookie']].flat().filter((l): l is string => typeof l === 'string');
  t.notOk(
    lines.some((l) => l.startsWith('gatehouse-agent') && !l.includes('Max-Age=0')),
    'no session cookie set',
  );
});
