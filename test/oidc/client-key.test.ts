// private_key_jwt takes its algorithm from the key itself. Guessing it from the
// PEM's length signed P-384 keys as ES256 ("Named curve mismatch") and Ed25519
// keys not at all ("Invalid key type"), while `check` passed them because it
// only parsed them. Each key type here signs a client assertion that verifies
// with its public half under the algorithm it names, and `check`'s proof
// refuses what cannot sign.
import t from 'tap';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { clientAssertionKey, proveClientAssertionKey } from '../../src/oidc/client-key.js';
import { applyClientAuth } from '../../src/oidc/client-auth.js';

const TOKEN_ENDPOINT = 'https://login.example.com/oauth/token';

function pemOf(privateKey: KeyObject): string {
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

const cases: Array<[string, () => { privateKey: KeyObject; publicKey: KeyObject }, string]> = [
  ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), 'RS256'],
  ['RSA 4096', () => generateKeyPairSync('rsa', { modulusLength: 4096 }), 'RS256'],
  ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), 'ES256'],
  ['EC P-384', () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }), 'ES384'],
  ['EC P-521', () => generateKeyPairSync('ec', { namedCurve: 'secp521r1' }), 'ES512'],
  ['Ed25519', () => generateKeyPairSync('ed25519'), 'EdDSA'],
];

for (const [name, generate, alg] of cases) {
  t.test(`${name}: signs a client assertion as ${alg}`, async (t) => {
    const { privateKey, publicKey } = generate();
    const key = clientAssertionKey(pemOf(privateKey));
    t.equal(key.alg, alg);
    t.doesNotThrow(() => proveClientAssertionKey(key), "check's proof passes");
    const form = new URLSearchParams();
    await applyClientAuth({ clientId: 'agent-client', method: 'private_key_jwt', privateKey: key }, TOKEN_ENDPOINT, form, {});
    const assertion = form.get('client_assertion')!;
    t.equal(decodeProtectedHeader(assertion).alg, alg);
    const { payload } = await jwtVerify(assertion, publicKey, { algorithms: [alg], issuer: 'agent-client', subject: 'agent-client', audience: TOKEN_ENDPOINT });
    t.ok(payload.jti, 'RFC 7523 3: a jti for the provider to refuse replays');
  });
}

t.test('a key that cannot sign is refused in words naming what would do', async (t) => {
  t.throws(
    () => clientAssertionKey(pemOf(generateKeyPairSync('x25519').privateKey)),
    /a x25519 key cannot sign a client assertion; use an RSA, EC \(P-256, P-384, P-521\) or Ed25519 key/,
  );
  t.throws(
    () => clientAssertionKey(pemOf(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey)),
    /curve secp256k1 cannot sign a client assertion; use P-256, P-384 or P-521/,
  );
  t.throws(
    () => clientAssertionKey(pemOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)),
    /an RSA key of 1024 bits is too short to sign a client assertion; use 2048 bits or more/,
  );
  t.throws(() => clientAssertionKey('not a key'));
});
