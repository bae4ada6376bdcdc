// Mix-up (RFC 9207): the authorization response names another issuer in `iss`,
// or omits `iss` although the provider advertises
// authorization_response_iss_parameter_supported. Gatehouse must answer
// GH_ISS_MISMATCH (400) before the code is redeemed. A provider that does not
// advertise the parameter and does not send it is fine.
import t from 'tap';
import { startHostileStack, expectSignInRefused, signInVia } from '../helpers/hostile-provider.js';

t.test('iss names another issuer, or is missing while advertised', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const real = stack.provider.issuer;
  for (const iss of ['https://attacker.example/', real.replace(/\/$/, ''), `${real}other`, '']) {
    stack.provider.onAuthorize = (params) => ({ ...params, iss });
    await expectSignInRefused(t, stack, 'GH_ISS_MISMATCH', { label: `iss=${JSON.stringify(iss)}` });
  }
  stack.provider.onAuthorize = ({ iss: _drop, ...rest }) => rest;
  await expectSignInRefused(t, stack, 'GH_ISS_MISMATCH', { label: 'iss missing' });
  t.equal(stack.provider.counts.token, 0, 'no code was redeemed');
});

t.test('a provider that does not advertise iss', async (t) => {
  const stack = await startHostileStack({
    beforeGateway: (p) => {
      p.discoveryOverrides = { authorization_response_iss_parameter_supported: false };
    },
  });
  t.teardown(() => stack.close());
  const ok = await signInVia(stack);
  t.equal(ok.callback.status, 302, 'no iss at all is accepted');
  stack.provider.onAuthorize = (params) => ({ ...params, iss: 'https://attacker.example/' });
  await expectSignInRefused(t, stack, 'GH_ISS_MISMATCH', { label: 'a wrong iss is refused even when not advertised' });
});
