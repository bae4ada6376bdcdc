// The callback refuses ID tokens that must not start a session: forged (signed by
// a key the provider does not publish), expired, for another audience, with
// another login's nonce, and unsigned (alg "none"). Each ends on the error page
// with its own GH_ code, sets no session cookie and forwards nothing. The
// provider here is a few lines that answer the token request with the token a
// case asks for; test/hostile/ covers the misbehaving provider at length.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { fetchWithJar, CookieJar } from '../helpers/browserless.js';
import { NAVIGATION, setCookies, startTestStack, type TestStack } from '../helpers/stack.js';

type Forge = 'valid' | 'forged' | 'expired' | 'audience' | 'nonce' | 'none';

/** Discovery, JWKS, an authorize endpoint that comes straight back with a code, and a token endpoint that answers `forge`. */
async function startTinyProvider() {
  const published = await generateKeyPair('ES256');
  const stranger = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(published.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const state = { forge: 'valid' as Forge, nonce: '', issuer: '' };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', state.issuer);
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json({
        issuer: state.issuer,
        authorization_endpoint: `${state.issuer}/authorize`,
        token_endpoint: `${state.issuer}/token`,
        jwks_uri: `${state.issuer}/jwks`,
        id_token_signing_alg_values_supported: ['ES256'],
      });
    }
    if (url.pathname === '/jwks') return json({ keys: [jwk] });
    if (url.pathname === '/authorize') {
      state.nonce = url.searchParams.get('nonce') ?? '';
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', 'code-123');
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/token') {
      req.resume();
      return void req.on('end', async () => json({ access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token: await idToken(state.forge) }));
    }
    res.writeHead(404);
    res.end();
  });
  async function idToken(forge: Forge): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      sub: 'user-mallory',
      email: 'mallory@example.com',
      groups: ['helpdesk-agents'],
      nonce: forge === 'nonce' ? 'nonce-of-another-login' : state.nonce,
    };
    if (forge === 'none') {
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iss: state.issuer, aud: 'demo-agent', iat: now, exp: now + 300 })}.`;
    }
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(state.issuer)
      .setAudience(forge === 'audience' ? 'some-other-client' : 'demo-agent')
      .setIssuedAt(forge === 'expired' ? now - 7200 : now)
      .setExpirationTime(forge === 'expired' ? now - 3600 : now + 300)
      .sign(forge === 'forged' ? stranger.privateKey : published.privateKey);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Navigate to /agent/, follow the provider straight back, and return the callback's answer (not followed further). */
async function signInOnce(stack: TestStack) {
  const jar = new CookieJar();
  const start = await fetchWithJar(`${stack.publicUrl}/agent/`, { jar, headers: NAVIGATION });
  const atProvider = await fetchWithJar(start.headers.location as string, { jar, headers: NAVIGATION });
  const callback = await fetchWithJar(atProvider.headers.location as string, { jar, headers: NAVIGATION });
  return { jar, callback };
}

t.test('bad ID tokens at the callback: the error page with the right code, no session', async (t) => {
  const idp = await startTinyProvider();
  t.teardown(idp.close);
  const stack = await startTestStack({ editYaml: (yaml) => yaml.replace(/issuer: .*/g, `issuer: ${idp.state.issuer}`) });
  t.teardown(() => stack.close());

  // the control: the same provider with an honest token signs in, so each refusal below is the token's fault
  idp.state.forge = 'valid';
  const ok = await signInOnce(stack);
  t.equal(ok.callback.status, 302, 'valid token: signed in');
  t.ok(ok.jar.get(`${stack.publicUrl}/agent`, stack.cookieName('agent')), 'valid token: session cookie');

  const cases: Array<[Forge, string]> = [
    ['forged', 'GH_ID_TOKEN_SIGNATURE'],
    ['expired', 'GH_ID_TOKEN_EXPIRED'],
    ['audience', 'GH_ID_TOKEN_AUDIENCE'],
    ['nonce', 'GH_ID_TOKEN_NONCE'],
    ['none', 'GH_ID_TOKEN_ALG'],
  ];
  for (const [forge, code] of cases) {
    idp.state.forge = forge;
    const before = stack.upstream.requests.length;
    const { jar, callback } = await signInOnce(stack);
    t.equal(callback.status, 502, `${forge}: 502 (the provider misbehaved)`);
    t.match(callback.headers['content-type'], /^text\/html/, `${forge}: an error page`);
    t.match(callback.body, `<code>${code}</code>`, `${forge}: shows ${code}`);
    t.notOk(
      setCookies(callback.headers).some((line) => line.startsWith(`${stack.cookieName('agent')}=`) && !line.startsWith(`${stack.cookieName('agent')}=;`)),
      `${forge}: no session cookie set`,
    );
    t.notOk(jar.get(`${stack.publicUrl}/agent`, stack.cookieName('agent')), `${forge}: no session in the browser`);
    const after = await fetchWithJar(`${stack.publicUrl}/agent/`, { jar, headers: { accept: 'application/json' } });
    t.equal(after.status, 401, `${forge}: still signed out`);
    t.equal(stack.upstream.requests.length, before, `${forge}: nothing forwarded`);
    t.ok(
      stack.logs.lines.some((l) => l.audit === 'sign-in-failed' && l.reason === code),
      `${forge}: logged with ${code}`,
    );
  }
});
