// The token endpoint fails: HTTP 500 with JSON, 500 with an HTML error page,
// 400 invalid_grant, 401 invalid_client, a dropped connection. Gatehouse must
// answer GH_TOKEN_REQUEST_FAILED (502) with its own page — never a 500, never
// the provider's page.
import t from 'tap';
import { startHostileStack, expectSignInRefused, type RawReply } from '../helpers/hostile-provider.js';

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
});
