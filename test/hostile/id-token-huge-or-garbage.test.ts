// The token endpoint's id_token is huge (a correctly signed 100 KB JWT), garbage
// text, a JWT with a broken header or too few parts, a correctly signed token
// whose payload is not a JSON object, or a JWE. Gatehouse must answer
// GH_ID_TOKEN_MALFORMED (502) — quickly, without a crash or a 500 —,
// GH_ID_TOKEN_ALG for the JWE, GH_TOKEN_RESPONSE_INVALID (502) when id_token is
// not even a string, and GH_TOKEN_REQUEST_FAILED (502) when the whole token
// response is larger than the gateway reads from a provider (1 MB).
import t from 'tap';
import { CompactSign } from 'jose';
import { startHostileStack, expectSignInRefused, rawJws, type HostileProvider } from '../helpers/hostile-provider.js';

function signedBytes(provider: HostileProvider, payload: string): Promise<string> {
  const key = provider.keys.RS256;
  return new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(key.privateKey);
}

t.test('huge or garbage ID tokens', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const cases: Array<[string, (claims: Record<string, unknown>, sign: (c: Record<string, unknown>) => Promise<string>) => Promise<string> | string]> = [
    ['huge signed token', (claims, sign) => sign({ ...claims, padding: 'A'.repeat(100_000) })],
    ['garbage', () => 'this is not a token'],
    ['one part', () => 'eyJhbGciOiJSUzI1NiJ9'],
    ['two parts', () => 'eyJhbGciOiJSUzI1NiJ9.e30'],
    ['header not JSON', () => `${Buffer.from('{alg:RS256').toString('base64url')}.e30.sig`],
    ['header is a JSON string', () => `${Buffer.from('"RS256"').toString('base64url')}.e30.sig`],
    ['signed payload not JSON', () => signedBytes(stack.provider, 'not json')],
    ['signed payload a JSON array', () => signedBytes(stack.provider, '["sub","admin"]')],
    ['signed payload a JSON string', () => signedBytes(stack.provider, '"admin"')],
    ['a signature that is not base64url', (claims) => rawJws({ alg: 'RS256', kid: stack.provider.keys.RS256.kid }, claims, '!!not-base64!!')],
    ['binary junk', () => Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 37) % 256)).toString('latin1')],
    ['a JWE', () => `${Buffer.from(JSON.stringify({ alg: 'RSA-OAEP', enc: 'A256GCM' })).toString('base64url')}.a.b.c.d`],
  ];
  for (const [label, make] of cases) {
    stack.provider.forgeIdToken = (ctx) => make(ctx.claims, (c) => ctx.sign(c));
    const code = label === 'a JWE' ? 'GH_ID_TOKEN_ALG' : 'GH_ID_TOKEN_MALFORMED';
    await expectSignInRefused(t, stack, code, { label });
  }
});

t.test('id_token that is not a string', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  for (const value of [42, { alg: 'none' }, ['a.b.c'], null, '']) {
    stack.provider.forgeIdToken = () => value;
    await expectSignInRefused(t, stack, 'GH_TOKEN_RESPONSE_INVALID', { label: JSON.stringify(value) });
  }
});

t.test('a token response larger than the gateway reads', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, padding: 'A'.repeat(2_000_000) });
  await expectSignInRefused(t, stack, 'GH_TOKEN_REQUEST_FAILED');
});
