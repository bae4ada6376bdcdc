// Refresh against a provider that misbehaves, on an injected clock (tokens for
// 60 s: a refresh is due after 45 s). A refreshed ID token that fails a check
// (OIDC Core 12.2) ends the session; a provider that cannot be reached signs
// no one out before the tokens really expire, is not hammered, answers 503
// GH_REFRESH_UNAVAILABLE after expiry, and the session resumes when it is back.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { fetchWithJar, type CookieJar } from '../helpers/browserless.js';
import { newSigningKey, signInVia, startHostileStack } from '../helpers/hostile-provider.js';
import { startRefreshingTokenEndpoint, type RefreshingTokenEndpoint } from './fixtures/refreshing-token-endpoint.js';
import { NAVIGATION, XHR } from './fixtures/cluster.js';

let offsetMs = 0;
const now = (): number => Date.now() + offsetMs;
const advance = (ms: number): void => {
  offsetMs += ms;
};
let endpoint!: RefreshingTokenEndpoint;
const stack = await startHostileStack({
  now,
  beforeGateway: async (provider) => {
    endpoint = await startRefreshingTokenEndpoint(provider, now);
    provider.discoveryOverrides.token_endpoint = endpoint.url;
    // sign-in ID tokens on the gateway's clock, so sign-ins work after the clock moved
    provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, iat: Math.floor(now() / 1000), exp: Math.floor(now() / 1000) + 300 });
  },
});
t.teardown(async () => {
  await stack.close();
  await endpoint.close();
});

function reset(): void {
  Object.assign(endpoint, { mode: 'ok', expiresIn: 60, rotate: true, idToken: true, forge: null, refreshes: 0 });
}

async function signedIn(): Promise<CookieJar> {
  const { jar, callback } = await signInVia(stack, '/agent/');
  if (callback.status !== 302) throw new Error(`sign-in failed: ${callback.status} ${callback.body.slice(0, 300)}`);
  return jar;
}

const xhr = async (jar: CookieJar) => {
  const res = await fetchWithJar(`${stack.publicUrl}/agent/api`, { jar, headers: XHR });
  return {
    status: res.status,
    error: res.headers['content-type']?.includes('json') && res.status !== 200 ? (JSON.parse(res.body) as { error: string }).error : undefined,
    res,
  };
};
/** A WebSocket handshake with the jar's session, refused: its status and error code. */
function upgradeRefusal(jar: CookieJar): Promise<{ status: number; error: string }> {
  const url = `${stack.publicUrl}/agent/ws`;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        cookie: jar.cookieHeader(url) ?? '',
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
      },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      reject(new Error('the upgrade was forwarded'));
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: (JSON.parse(body) as { error: string }).error }));
    });
    req.on('error', reject);
    req.end();
  });
}
const ended = () => stack.logs.lines().filter((l) => l.audit === 'session-ended');

t.test('a correct refresh: new tokens, and a provider that does not rotate keeps the old refresh token', async (t) => {
  reset();
  endpoint.rotate = false;
  endpoint.idToken = false;
  const jar = await signedIn();
  t.equal((await xhr(jar)).status, 200);
  advance(40_000);
  t.equal((await xhr(jar)).status, 200);
  t.equal(endpoint.refreshes, 0, 'not due at 40 s of 60');
  advance(6_000);
  t.equal((await xhr(jar)).status, 200);
  t.equal(endpoint.refreshes, 1, 'due at 45 s: refreshed');
  advance(46_000);
  t.equal((await xhr(jar)).status, 200);
  t.equal(endpoint.refreshes, 2, 'the next refresh with the same (unrotated) token works');
  t.equal(ended().length, 0);
});

const forgeries: Array<[string, RefreshingTokenEndpoint['forge'], string]> = [
  ['names someone else (sub)', (claims, sign) => sign({ ...claims, sub: 'someone-else' }), 'GH_ID_TOKEN_SUB_CHANGED'],
  ['carries another nonce', (claims, sign) => sign({ ...claims, nonce: 'another-nonce' }), 'GH_ID_TOKEN_NONCE'],
  ['is meant for another client (aud)', (claims, sign) => sign({ ...claims, aud: 'hostile-user' }), 'GH_ID_TOKEN_AUDIENCE'],
  ['comes from another issuer', (claims, sign) => sign({ ...claims, iss: 'https://evil.example/' }), 'GH_ID_TOKEN_ISSUER'],
  [
    'is signed by a key the provider does not publish',
    async (claims) => {
      const { SignJWT } = await import('jose');
      const key = await newSigningKey('RS256', stack.provider.keys.RS256.kid);
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(key.privateKey);
    },
    'GH_ID_TOKEN_SIGNATURE',
  ],
  ['has expired', (claims, sign) => sign({ ...claims, exp: Math.floor(now() / 1000) - 600 }), 'GH_ID_TOKEN_EXPIRED'],
];
for (const [what, forge, code] of forgeries) {
  t.test(`a refreshed ID token that ${what} ends the session (${code})`, async (t) => {
    reset();
    const jar = await signedIn();
    const before = ended().length;
    endpoint.forge = forge;
    advance(46_000);
    const res = await xhr(jar);
    t.equal(res.status, 401, 'signed out');
    t.equal(res.error, 'GH_NOT_SIGNED_IN');
    t.equal(ended().length, before + 1);
    t.equal(ended().at(-1)?.reason, code, `the log names ${code}`);
    endpoint.forge = null;
    t.equal((await xhr(jar)).status, 401, 'and it stays ended');
  });
}

t.test('invalid_grant ends the session', async (t) => {
  reset();
  const jar = await signedIn();
  endpoint.mode = 'invalid_grant';
  advance(46_000);
  t.equal((await xhr(jar)).status, 401);
  t.equal(ended().at(-1)?.reason, 'invalid_grant');
});

for (const mode of ['drop', 'http_503'] as const) {
  t.test(`a provider that ${mode === 'drop' ? 'drops the connection' : 'answers 503'}: nobody is signed out before the tokens expire`, async (t) => {
    reset();
    const jar = await signedIn();
    const before = ended().length;
    endpoint.mode = mode;
    advance(46_000); // due, 14 s left
    const burst = await Promise.all(Array.from({ length: 5 }, () => xhr(jar)));
    t.same(
      burst.map((r) => r.status),
      [200, 200, 200, 200, 200],
      'still served',
    );
    t.equal(endpoint.refreshes, 1, 'one attempt for the burst');
    t.equal((await xhr(jar)).status, 200);
    t.equal(endpoint.refreshes, 1, 'no new attempt right after a failure');
    t.ok(
      stack.logs.lines().some((l) => l.code === 'GH_REFRESH_UNAVAILABLE'),
      'the failure is logged',
    );
    advance(6_000); // 8 s left, the retry interval passed
    t.equal((await xhr(jar)).status, 200);
    t.equal(endpoint.refreshes, 2, 'retried after a while');

    advance(10_000); // the tokens have expired
    const expired = await xhr(jar);
    t.equal(expired.status, 503, 'after expiry: 503, not signed out');
    t.equal(expired.error, 'GH_REFRESH_UNAVAILABLE');
    t.equal(expired.res.headers['retry-after'], '5');
    t.notOk(String(expired.res.headers['set-cookie'] ?? '').includes('gatehouse-agent=;'), 'the cookie is kept');
    const page = await fetchWithJar(`${stack.publicUrl}/agent/tickets`, { jar, headers: NAVIGATION });
    t.equal(page.status, 503, 'a person sees a page that says so');
    t.match(page.body, /GH_REFRESH_UNAVAILABLE/);
    t.same(
      await upgradeRefusal(jar),
      { status: 503, error: 'GH_REFRESH_UNAVAILABLE' },
      'a WebSocket handshake is told the same, not that the session store is down',
    );
    t.equal(ended().length, before, 'no session was ended');

    endpoint.mode = 'ok';
    advance(6_000);
    const back = await xhr(jar);
    t.equal(back.status, 200, 'the provider is back: the session resumes by itself');
    t.ok(String(back.res.headers['set-cookie']).includes('gatehouse-agent='), 'with refreshed tokens');
    advance(30_000);
    t.equal((await xhr(jar)).status, 200, 'and keeps going');
  });
}

// Issue 11, finding 8: the provider rotated, and its JWKS cannot be fetched when the refreshed ID token
// (signed with the new key) arrives. That says nothing about the person: the session is kept, with the new
// (rotated) refresh token, and the token's claims are checked again once the keys can be fetched.
t.test('a refreshed ID token whose key cannot be fetched keeps the session (GH_JWKS_UNAVAILABLE), and it resumes', async (t) => {
  reset();
  const jar = await signedIn();
  const before = ended().length;
  await stack.provider.rotate();
  stack.provider.jwksDown = true;
  t.teardown(() => {
    stack.provider.jwksDown = false;
  });
  advance(46_000); // due, 14 s left
  t.equal((await xhr(jar)).status, 200, 'not signed out');
  t.equal(endpoint.refreshes, 1);
  t.ok(
    stack.logs.lines().some((l) => l.code === 'GH_REFRESH_UNAVAILABLE' && /JWKS/.test(String(l.detail))),
    'the failed check is logged, naming the JWKS',
  );
  t.equal(ended().length, before, 'no session ended');

  advance(15_000); // past the tokens the claims were last checked with
  const expired = await xhr(jar);
  t.equal(expired.status, 503, 'then 503, not signed out');
  t.equal(expired.error, 'GH_REFRESH_UNAVAILABLE');

  stack.provider.jwksDown = false;
  advance(6_000);
  t.equal((await xhr(jar)).status, 200, 'the JWKS answers again: the new key is fetched, the session resumes');
  t.equal(ended().length, before, 'the rotated refresh token was kept all along (a spent one would have ended the session)');
});

t.test('a refresh set off by /.gatehouse/userinfo hands the browser the refreshed session', async (t) => {
  reset();
  const jar = await signedIn();
  const before = ended().length;
  advance(46_000);
  const info = await fetchWithJar(`${stack.publicUrl}/.gatehouse/userinfo?realm=agent`, { jar, headers: XHR });
  t.equal(info.status, 200);
  t.equal(endpoint.refreshes, 1, 'refreshed (the provider rotated the refresh token)');
  t.match(String(info.headers['set-cookie']), /gatehouse-agent=[^;]+/, 'with the new cookie');
  advance(46_000);
  t.equal((await xhr(jar)).status, 200, 'so the next refresh presents the new refresh token');
  t.equal(endpoint.refreshes, 2);
  t.equal(ended().length, before, 'and nothing ended');
});
