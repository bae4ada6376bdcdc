// With `userinfo: true`, the provider's userinfo endpoint answers for someone
// else (a different `sub`, or none). OIDC Core 5.3.2: the userinfo sub MUST
// match the ID token's. Gatehouse must answer GH_USERINFO_SUB_MISMATCH (502);
// a failing userinfo endpoint gives GH_USERINFO_FAILED (502). Userinfo claims
// never override the ID token's.
import t from 'tap';
import { startHostileStack, expectSignInRefused, signInVia, fetchAsScript } from '../helpers/hostile-provider.js';

const withUserinfo = (yaml: string): string =>
  yaml.replace('client_secret: hostile-agent-secret-0123456789abcdef', 'client_secret: hostile-agent-secret-0123456789abcdef\n      userinfo: true');

t.test('userinfo for another subject', async (t) => {
  const stack = await startHostileStack({ editYaml: withUserinfo });
  t.teardown(() => stack.close());
  for (const sub of ['someone-else', '', 'HOSTILE-SUB-1', undefined, 42]) {
    stack.provider.onUserinfo = (info) => ({ body: { ...info, sub } });
    await expectSignInRefused(t, stack, 'GH_USERINFO_SUB_MISMATCH', { label: JSON.stringify(sub) ?? 'absent' });
  }
});

t.test('userinfo failing', async (t) => {
  const stack = await startHostileStack({ editYaml: withUserinfo });
  t.teardown(() => stack.close());
  stack.provider.onUserinfo = () => ({ status: 500, contentType: 'text/html', body: '<h1>oops</h1>' });
  await expectSignInRefused(t, stack, 'GH_USERINFO_FAILED', { label: '500' });
  stack.provider.onUserinfo = () => ({ contentType: 'text/html', body: '<h1>hello</h1>' });
  await expectSignInRefused(t, stack, 'GH_USERINFO_FAILED', { label: 'HTML' });
});

t.test('userinfo claims do not override the ID token', async (t) => {
  const stack = await startHostileStack({ editYaml: withUserinfo });
  t.teardown(() => stack.close());
  stack.provider.onUserinfo = (info) => ({ body: { ...info, email: 'ceo@example.com', name: 'The CEO' } });
  const { jar, callback } = await signInVia(stack);
  t.equal(callback.status, 302);
  t.equal(stack.provider.counts.userinfo, 1, 'userinfo was called');
  t.equal((await fetchAsScript(stack, '/agent/', jar)).status, 200);
  t.equal(stack.upstream.requests.at(-1)!.headers['x-auth-email'], 'alice@example.com');
  t.equal(stack.upstream.requests.at(-1)!.headers['x-auth-name'], 'Alice Agent');
});
