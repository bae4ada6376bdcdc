import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { SignJWT, createRemoteJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { startDemoProvider, DEMO_ACCOUNTS, type DemoProvider } from '../../src/demo/provider.js';
import { CookieJar, fetchWithJar, parseForms, signIn, signOut, submitForm } from '../helpers/browserless.js';

const b64url = (b: Buffer) => b.toString('base64url');

interface Received {
  method: string;
  url: string;
  body: string;
}

/** A throwaway relying party: records what reaches its redirect and back-channel URIs. */
async function startRedirectTarget(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const c of req) body += String(c);
    received.push({ method: req.method ?? 'GET', url: req.url ?? '/', body });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('rp ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

const CLIENT_ID = 'helpdesk-agent';
const CLIENT_SECRET = 'agent-secret-0123456789abcdef';

async function setup(t: { teardown(fn: () => unknown): void }, opts: { refreshTokens?: boolean; signingAlg?: 'RS256' | 'ES256' | 'EdDSA' } = {}) {
  const rp = await startRedirectTarget();
  t.teardown(rp.close);
  const op = await startDemoProvider({
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${rp.url}/cb`],
        post_logout_redirect_uris: [`${rp.url}/bye`],
        backchannel_logout_uri: `${rp.url}/backchannel`,
      },
    ],
    ...(opts.refreshTokens ? { refreshTokens: true } : {}),
    ...(opts.signingAlg ? { signingAlg: opts.signingAlg } : {}),
  });
  t.teardown(op.close);
  return { rp, op };
}

function authorizeUrl(op: DemoProvider, redirectUri: string, extra: Record<string, string> = {}) {
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const url = new URL('/auth', op.issuer);
  url.search = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: 'code',
    scope: 'openid profile email groups',
    redirect_uri: redirectUri,
    state,
    nonce,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  return { url: url.href, verifier, state, nonce };
}

async function token(op: DemoProvider, params: Record<string, string>) {
  const basic = Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64');
  const res = await fetch(`${op.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

async function signInAndRedeem(op: DemoProvider, rpUrl: string, account = DEMO_ACCOUNTS[0]!) {
  const auth = authorizeUrl(op, `${rpUrl}/cb`);
  const flow = await signIn(auth.url, account);
  const cb = new URL(flow.final.url);
  const code = cb.searchParams.get('code') ?? '';
  const tokens = await token(op, { grant_type: 'authorization_code', code, redirect_uri: `${rpUrl}/cb`, code_verifier: auth.verifier });
  return { auth, flow, cb, tokens };
}

t.test('discovery document', async (t) => {
  const { op } = await setup(t);
  t.match(op.issuer, /^http:\/\/127\.0\.0\.1:\d+$/, 'issuer has no trailing slash');
  const res = await fetch(`${op.issuer}/.well-known/openid-configuration`);
  t.equal(res.status, 200);
  const doc = (await res.json()) as Record<string, unknown>;
  t.equal(doc.issuer, op.issuer);
  t.equal(doc.jwks_uri, `${op.issuer}/jwks`);
  t.equal(doc.end_session_endpoint, `${op.issuer}/session/end`);
  t.equal(doc.backchannel_logout_supported, true);
  t.equal(doc.backchannel_logout_session_supported, true);
  t.equal(doc.authorization_response_iss_parameter_supported, true);
  t.ok((doc.code_challenge_methods_supported as string[]).includes('S256'));
  t.ok((doc.scopes_supported as string[]).includes('groups'));
});

t.test('authorization code + PKCE, ID token claims', async (t) => {
  const { op, rp } = await setup(t);
  const { auth, flow, cb, tokens } = await signInAndRedeem(op, rp.url);

  t.ok(
    flow.hops.some((h) => h.startsWith(`${op.issuer}/interaction/`)),
    'went through the login page',
  );
  t.equal(flow.final.status, 200);
  t.equal(`${cb.origin}${cb.pathname}`, `${rp.url}/cb`, 'landed on the redirect target');
  t.equal(cb.searchParams.get('state'), auth.state);
  t.equal(cb.searchParams.get('iss'), op.issuer, 'RFC 9207 iss in the authorization response');
  t.equal(tokens.status, 200);
  t.equal(tokens.body.token_type, 'Bearer');
  t.notOk(tokens.body.refresh_token, 'no refresh token unless enabled');

  const jwks = createRemoteJWKSet(new URL(`${op.issuer}/jwks`));
  const { payload, protectedHeader } = await jwtVerify(tokens.body.id_token!, jwks, { issuer: op.issuer, audience: CLIENT_ID });
  t.equal(protectedHeader.alg, 'RS256');
  t.equal(payload.sub, 'user-alice');
  t.equal(payload.email, 'alice@example.com');
  t.equal(payload.email_verified, true);
  t.equal(payload.name, 'Alice Agent');
  t.same(payload.groups, ['helpdesk-agents']);
  t.equal(payload.nonce, auth.nonce);
  t.type(payload.sid, 'string', 'sid present');

  // A second authorization rides the provider session: no login page this time.
  const again = await signIn(authorizeUrl(op, `${rp.url}/cb`).url, DEMO_ACCOUNTS[0]!, { jar: flow.jar });
  t.notOk(
    again.hops.some((h) => h.includes('/interaction/')),
    'no second login',
  );
  t.ok(new URL(again.final.url).searchParams.get('code'));
});

for (const alg of ['ES256', 'EdDSA'] as const) {
  t.test(`ID tokens signed with ${alg}`, async (t) => {
    const { op, rp } = await setup(t, { signingAlg: alg });
    const { tokens } = await signInAndRedeem(op, rp.url);
    const { protectedHeader, payload } = await jwtVerify(tokens.body.id_token!, createRemoteJWKSet(new URL(`${op.issuer}/jwks`)), { issuer: op.issuer });
    t.equal(protectedHeader.alg, alg);
    t.equal(payload.sub, 'user-alice');
  });
}

t.test('private_key_jwt clients', async (t) => {
  const rp = await startRedirectTarget();
  t.teardown(rp.close);
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const op = await startDemoProvider({
    clients: [
      {
        client_id: CLIENT_ID,
        redirect_uris: [`${rp.url}/cb`],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'rp-1', alg: 'ES256', use: 'sig' }] },
      },
    ],
  });
  t.teardown(op.close);
  const auth = authorizeUrl(op, `${rp.url}/cb`);
  const flow = await signIn(auth.url, DEMO_ACCOUNTS[0]!);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'rp-1' })
    .setIssuer(CLIENT_ID)
    .setSubject(CLIENT_ID)
    .setAudience(op.issuer)
    .setJti(b64url(randomBytes(16)))
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(privateKey);
  const res = await fetch(`${op.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: new URL(flow.final.url).searchParams.get('code') ?? '',
      redirect_uri: `${rp.url}/cb`,
      code_verifier: auth.verifier,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  t.equal(res.status, 200);
  t.type(((await res.json()) as Record<string, unknown>).id_token, 'string');
});

t.test('PKCE is required', async (t) => {
  const { op, rp } = await setup(t);
  const url = new URL(authorizeUrl(op, `${rp.url}/cb`).url);
  url.searchParams.delete('code_challenge');
  url.searchParams.delete('code_challenge_method');
  const res = await fetchWithJar(url.href, { followRedirects: true, headers: { accept: 'text/html' } });
  const cb = new URL(res.url);
  t.equal(cb.pathname, '/cb');
  t.equal(cb.searchParams.get('error'), 'invalid_request');
  t.match(cb.searchParams.get('error_description'), /PKCE/);
});

t.test('wrong password is refused', async (t) => {
  const { op, rp } = await setup(t);
  const flow = await signIn(authorizeUrl(op, `${rp.url}/cb`).url, { username: 'alice', password: 'not-her-password' });
  t.equal(flow.final.status, 401);
  t.match(flow.final.body, /Wrong username or password/);
  t.match(flow.final.body, /<form[^>]*id="login-form"/, 'the login form is shown again');
  t.match(flow.final.body, /<label for="username">/);
  t.notOk(
    flow.hops.some((h) => h.startsWith(rp.url)),
    'never reached the relying party',
  );
  t.equal(rp.received.length, 0);

  const nobody = await signIn(authorizeUrl(op, `${rp.url}/cb`).url, { username: 'mallory', password: 'x' });
  t.equal(nobody.final.status, 401, 'unknown user refused the same way');
});

t.test('refresh tokens when enabled; key rotation', async (t) => {
  const { op, rp } = await setup(t, { refreshTokens: true });
  const { tokens } = await signInAndRedeem(op, rp.url, DEMO_ACCOUNTS[1]!);
  t.equal(tokens.status, 200);
  t.type(tokens.body.refresh_token, 'string', 'refresh token issued without offline_access');
  const firstKid = decodeProtectedHeader(tokens.body.id_token!).kid;

  const before = (await (await fetch(`${op.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
  t.equal(before.keys[0]?.kid, firstKid);
  await op.rotateSigningKey();
  const after = (await (await fetch(`${op.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
  t.not(after.keys[0]?.kid, firstKid, 'new key first');
  t.ok(
    after.keys.some((k) => k.kid === firstKid),
    'old key still published',
  );

  const refreshed = await token(op, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token! });
  t.equal(refreshed.status, 200);
  const jwks = createRemoteJWKSet(new URL(`${op.issuer}/jwks`));
  const { payload, protectedHeader } = await jwtVerify(refreshed.body.id_token!, jwks, { issuer: op.issuer, audience: CLIENT_ID });
  t.equal(protectedHeader.kid, after.keys[0]?.kid, 'signed with the new key');
  t.equal(payload.sub, 'user-bob');
  t.same(payload.groups, ['customers']);
  t.type(payload.sid, 'string');
  await jwtVerify(tokens.body.id_token!, jwks, { issuer: op.issuer, audience: CLIENT_ID });
  t.pass('token signed with the old key still verifies');
});

t.test('RP-initiated logout with back-channel logout', async (t) => {
  const { op, rp } = await setup(t);
  const { flow, tokens } = await signInAndRedeem(op, rp.url);
  const idToken = tokens.body.id_token!;
  const sid = (await jwtVerify(idToken, createRemoteJWKSet(new URL(`${op.issuer}/jwks`)))).payload.sid;

  const end = new URL('/session/end', op.issuer);
  end.search = new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: `${rp.url}/bye`, state: 's1' }).toString();
  const out = await signOut(end.href, { jar: flow.jar, method: 'GET' });
  t.equal(new URL(out.final.url).pathname, '/bye', 'landed on post_logout_redirect_uri');
  t.equal(new URL(out.final.url).searchParams.get('state'), 's1');

  const bc = rp.received.find((r) => r.url === '/backchannel');
  t.ok(bc, 'back-channel logout delivered to a loopback RP');
  const logoutToken = new URLSearchParams(bc?.body ?? '').get('logout_token') ?? '';
  const { payload } = await jwtVerify(logoutToken, createRemoteJWKSet(new URL(`${op.issuer}/jwks`)), { issuer: op.issuer, audience: CLIENT_ID });
  t.equal(payload.sub, 'user-alice');
  t.equal(payload.sid, sid);
  t.ok((payload.events as Record<string, unknown>)['http://schemas.openid.net/event/backchannel-logout']);

  // The provider session is gone: the next authorization asks for the password again.
  const after = await fetchWithJar(authorizeUrl(op, `${rp.url}/cb`).url, { jar: flow.jar, followRedirects: true, headers: { accept: 'text/html' } });
  t.match(after.url, `${op.issuer}/interaction/`);
  t.match(after.body, /name="password"/);
});

t.test('the login page: labelled form, cancel, expired attempts, errors', async (t) => {
  const { op, rp } = await setup(t);
  const jar = new CookieJar();
  const page = await fetchWithJar(authorizeUrl(op, `${rp.url}/cb`).url, { jar, followRedirects: true, headers: { accept: 'text/html' } });
  t.equal(page.status, 200);
  t.match(page.url, `${op.issuer}/interaction/`);
  t.match(page.body, /<label for="username">Username<\/label>\s*<input id="username" name="username"/);
  t.match(page.body, /<label for="password">Password<\/label>\s*<input id="password" name="password" type="password"/);
  t.match(page.body, /<button type="submit">Sign in<\/button>/);

  const cancel = parseForms(page.body, page.url).find((f) => f.action.endsWith('/abort'));
  t.ok(cancel, 'has a cancel form');
  const aborted = await submitForm(cancel!, {}, { jar, pageUrl: page.url });
  const cb = new URL(aborted.url);
  t.equal(cb.pathname, '/cb');
  t.equal(cb.searchParams.get('error'), 'access_denied');

  const stale = await fetchWithJar(page.url, { headers: { accept: 'text/html' } });
  t.equal(stale.status, 400, 'an interaction without its cookie is refused');
  t.match(stale.body, /expired/);

  const post = await fetchWithJar(`${op.issuer}/auth?client_id=nobody&response_type=code&scope=openid`, { headers: { accept: 'text/html' } });
  t.equal(post.status, 400);
  t.match(post.body, /<span id="error">invalid_client<\/span>/, 'own error page');
});

t.test('prompt=consent is granted without a consent screen', async (t) => {
  const { op, rp } = await setup(t, { refreshTokens: true });
  const auth = authorizeUrl(op, `${rp.url}/cb`, { prompt: 'consent', scope: 'openid email offline_access' });
  const flow = await signIn(auth.url, DEMO_ACCOUNTS[1]!);
  const code = new URL(flow.final.url).searchParams.get('code');
  t.ok(code, 'got a code');
  const tokens = await token(op, { grant_type: 'authorization_code', code: code!, redirect_uri: `${rp.url}/cb`, code_verifier: auth.verifier });
  t.equal(tokens.status, 200);
  t.match(tokens.body.scope, /offline_access/);
  t.type(tokens.body.refresh_token, 'string');
});

t.test('logout without a provider session ends on the success page', async (t) => {
  const { op } = await setup(t);
  const out = await signOut(`${op.issuer}/session/end`, { jar: new CookieJar(), method: 'GET' });
  t.equal(new URL(out.final.url).pathname, '/session/end/success');
  t.match(out.final.body, /id="signed-out"/);
});

t.test('cookie jar basics', async (t) => {
  const jar = new CookieJar();
  jar.setFromResponse('http://127.0.0.1:1/a/b', ['x=1; Path=/a', 'y=2', '__Host-s=3; Path=/; Secure; HttpOnly; SameSite=Lax']);
  t.equal(jar.cookieHeader('http://127.0.0.1:1/a/c'), 'x=1; y=2; __Host-s=3');
  t.equal(jar.cookieHeader('http://127.0.0.1:1/other'), '__Host-s=3', 'path honoured');
  t.equal(jar.cookieHeader('http://127.0.0.1:2/a/b'), undefined, 'port-scoped');
  jar.setFromResponse('http://127.0.0.1:1/', '__Host-s=; Path=/; Max-Age=0');
  jar.setFromResponse('http://127.0.0.1:1/a/b', 'x=; Path=/a; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  t.equal(jar.cookieHeader('http://127.0.0.1:1/a/b'), 'y=2', 'Max-Age=0 and past Expires delete');
});
