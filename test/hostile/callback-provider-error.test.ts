// The provider answers the authorization request with an error
// (error=access_denied, error_description=...), including hostile values: HTML
// and script, CR/LF, very long text, unicode. Gatehouse must answer
// GH_CALLBACK_CANCELLED for access_denied (the person pressed Cancel) and
// GH_CALLBACK_PROVIDER_ERROR for the rest (400), with its own clean page: none of the
// provider's text reflected, a strict CSP, the attempt cookie cleared, no crash.
import t from 'tap';
import { startHostileStack, expectSignInRefused, signInVia, lastSignInFailure } from '../helpers/hostile-provider.js';

t.test('error responses become a clean page', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const hostile = '<script>alert(document.cookie)</script>';
  const variants: Array<Record<string, string>> = [
    { error: 'access_denied', error_description: 'The user said no' },
    { error: hostile, error_description: hostile, error_uri: 'javascript:alert(1)' },
    { error: 'server_error\r\nSet-Cookie: pwned=1', error_description: 'x\r\n\r\n<h1>injected</h1>' },
    { error: 'x'.repeat(20_00), error_description: 'é🙂\u0000\u202e' },
    { error: '' },
  ];
  for (const extra of variants) {
    stack.provider.onAuthorize = ({ code: _drop, ...rest }) => ({ ...rest, ...extra });
    const expected = extra.error === 'access_denied' ? 'GH_CALLBACK_CANCELLED' : 'GH_CALLBACK_PROVIDER_ERROR';
    const page = await expectSignInRefused(t, stack, expected, { label: extra.error!.slice(0, 20) });
    t.match(String(page.headers['content-type']), /^text\/html/);
    t.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    t.notMatch(page.body, /<script|alert\(|injected|javascript:|The user said no|server_error/, "nothing of the provider's text is shown");
    t.notOk(
      [page.headers['set-cookie']].flat().some((line) => String(line).includes('pwned')),
      'no injected cookie',
    );
    const cleared = [page.headers['set-cookie']].flat().filter((l): l is string => typeof l === 'string');
    t.ok(
      cleared.some((l) => l.startsWith('gatehouse-login-') && l.includes('Max-Age=0')),
      'the spent attempt cookie is cleared',
    );
    t.notMatch(String(lastSignInFailure(stack)?.detail), /[<>\r\n]/, 'the log detail is sanitized');
  }
  t.equal(stack.provider.counts.token, 0);
  stack.provider.onAuthorize = null;
  t.equal((await signInVia(stack)).callback.status, 302, 'and the gateway still works');
});
