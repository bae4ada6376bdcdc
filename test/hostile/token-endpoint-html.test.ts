// The token endpoint answers 200 but not with a token response: an HTML page
// (a captive portal, a WAF), a JSON array, JSON without id_token, an unknown
// token_type. Gatehouse must answer GH_TOKEN_RESPONSE_INVALID (502).
import t from 'tap';
import { startHostileStack, expectSignInRefused, type RawReply } from '../helpers/hostile-provider.js';

t.test('200 answers that are not token responses', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const replies: Array<[string, RawReply]> = [
    ['HTML', { contentType: 'text/html', body: '<!doctype html><title>Sign in to the Wi-Fi</title>' }],
    ['JSON array', { body: '[{"id_token":"x"}]' }],
    ['JSON null', { body: 'null' }],
    ['empty body', { body: '' }],
    ['no id_token', { body: { access_token: 'at', token_type: 'Bearer' } }],
    ['token_type mac', { body: { access_token: 'at', token_type: 'mac', id_token: 'a.b.c' } }],
  ];
  for (const [label, reply] of replies) {
    stack.provider.onToken = () => reply;
    await expectSignInRefused(t, stack, 'GH_TOKEN_RESPONSE_INVALID', { label });
  }
});
