// The token endpoint fails: HTTP 500 with JSON, 500 with an HTML error page,
// 400 invalid_grant, 401 invalid_client, a dropped connection. Gatehouse must
// answer GH_TOKEN_REQUEST_FAILED (502) with its own page — never a 500, never
// the provider's page.
import t from 'tap';
import { startHostileStack, expectSignInRefused, lastSignInFailure, signInVia, type RawReply } from '../helpers/hostile-provider.js';

t.test('token endpoint errors', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const replies: Array<[string, RawReply]> = [
    ['500 JSON', { status: 500, body: { error: 'server_error' } }],
    ['500 HTML', { status: 500, contentType: 'text/html', body: '<html><body><h1>Internal Server Error</h1><script>x()</script></body></html>' }],
    ['400 invalid_grant', { status: 400, body: { error: 'invalid_grant', error_description: '<b>nope</b>' } }],
    ['401 invalid_client', { status: 401, body: { error: 'invalid_client' } }],
    ['302 elsewhere', { status: 302, body: '' }],
    ['connection dropped', { destroy: true, body: '' }],
  ];
  for (const [label, reply] of replies) {
    stack.provider.onToken = () => reply;
    const page = await expectSignInRefused(t, stack, 'GH_TOKEN_REQUEST_FAILED', { label });
    t.notMatch(page.body, /Internal Server Error|<script>x|nope/, `${label}: the provider's page is not shown`);
  }

  // a refusal after the state was spent is answered like the ones before it (one error channel in the callback):
  // the attempt stays in the browser as spent, "Try again" leads where the sign-in was going, the log names the step
  stack.provider.onToken = () => ({ status: 500, body: { error: 'server_error' } });
  const { callback } = await signInVia(stack, '/agent/tickets/42');
  t.equal(callback.status, 502);
  t.match(callback.body, /rd=%2Fagent%2Ftickets%2F42/, 'Try again leads back to where the sign-in was going');
  const setCookies = ([] as string[]).concat(callback.headers['set-cookie'] ?? []);
  t.ok(
    setCookies.some((line) => /gatehouse-login-[^=]+=[^;]+/.test(line)),
    'the attempt is kept in the browser, as spent',
  );
  t.match(lastSignInFailure(stack), { reason: 'GH_TOKEN_REQUEST_FAILED', step: 'redeem-code' }, 'the log says which step refused');
});
