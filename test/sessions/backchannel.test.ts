// OpenID Connect Back-Channel Logout 1.0 at /.gatehouse/backchannel-logout/<realm>,
// with a hand-written provider whose keys the test holds, so every check of a
// logout token (2.6) can be broken on purpose: each broken token is answered
// 400 with its code, and the session it names stays alive. A valid token ends
// the sessions it names (by sid, or every session of the sub), in its realm
// only, once (jti).
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { fetchWithJar, type CookieJar } from '../helpers/browserless.js';
import { newSigningKey, rawJws, signInVia, startHostileStack } from '../helpers/hostile-provider.js';
import { XHR } from './fixtures/cluster.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const now = (): number => Math.floor(Date.now() / 1000);

const stack = await startHostileStack();
t.teardown(() => stack.close());

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    iss: stack.provider.issuer,
    aud: 'hostile-agent',
    iat: now(),
    exp: now() + 120,
    jti: randomBytes(12).toString('base64url'),
    events: { [EVENT]: {} },
    sid: 'provider-sid-1',
    sub: stack.provider.subject,
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

async function post(realm: string, body: string, contentType = 'application/x-www-form-urlencoded') {
  const res = await fetchWithJar(`${stack.publicUrl}/.gatehouse/backchannel-logout/${realm}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return { status: res.status, headers: res.headers, body: res.body ? (JSON.parse(res.body) as { error?: string; code?: string }) : null };
}

const logout = (token: string, realm = 'agent') => post(realm, new URLSearchParams({ logout_token: token }).toString());

async function status(jar: CookieJar, path = '/agent/api'): Promise<number> {
  return (await fetchWithJar(`${stack.publicUrl}${path}`, { jar, headers: XHR })).status;
}

async function signedIn(path = '/agent/', sid = 'provider-sid-1'): Promise<CookieJar> {
  stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, sid });
  const { jar, callback } = await signInVia(stack, path);
  stack.provider.forgeIdToken = null;
  if (callback.status !== 302) throw new Error(`sign-in failed: ${callback.status} ${callback.body.slice(0, 200)}`);
  return jar;
}

t.test('each broken logout token is refused with 400 and its code; the session lives on', async (t) => {
  const jar = await signedIn('/agent/', 'provider-sid-broken');
  t.equal(await status(jar), 200);
  const foreignKey = await newSigningKey('RS256', stack.provider.keys.RS256.kid); // same kid, another key
  const sid = { sid: 'provider-sid-broken' };
  const cases: Array<[string, () => Promise<string>, string?]> = [
    ['signature by a key not in the JWKS', () => stack.provider.sign(claims(sid), { key: foreignKey })],
    ['alg none', async () => rawJws({ alg: 'none' }, claims(sid))],
    [
      'HS256 keyed with the client secret',
      async () => {
        const { SignJWT } = await import('jose');
        return new SignJWT(claims(sid)).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('hostile-agent-secret-0123456789abcdef'));
      },
    ],
    ['another issuer', () => stack.provider.sign(claims({ ...sid, iss: 'https://evil.example/' }))],
    ["another client's audience (the user realm)", () => stack.provider.sign(claims({ ...sid, aud: 'hostile-user' }))],
    ['no iat', () => stack.provider.sign(claims({ ...sid, iat: undefined }))],
    ['iat in the future', () => stack.provider.sign(claims({ ...sid, iat: now() + 600, exp: now() + 900 }))],
    ['iat twenty minutes old', () => stack.provider.sign(claims({ ...sid, iat: now() - 1200, exp: now() + 60 }))],
    ['expired', () => stack.provider.sign(claims({ ...sid, iat: now() - 300, exp: now() - 120 }))],
    ['no jti', () => stack.provider.sign(claims({ ...sid, jti: undefined }))],
    ['no events', () => stack.provider.sign(claims({ ...sid, events: undefined }))],
    ['another event', () => stack.provider.sign(claims({ ...sid, events: { 'http://schemas.openid.net/event/other': {} } }))],
    ['a nonce (an ID token passed off as a logout token)', () => stack.provider.sign(claims({ ...sid, nonce: 'n-0123' }))],
    ['neither sid nor sub', () => stack.provider.sign(claims({ sid: undefined, sub: undefined }))],
    ['garbage', async () => 'not.a.jwt'],
    ['too long', async () => 'a'.repeat(20_000)],
  ];
  for (const [what, make] of cases) {
    const res = await logout(await make());
    t.equal(res.status, 400, `${what}: 400`);
    t.equal(res.body?.code, 'GH_LOGOUT_TOKEN_INVALID', `${what}: GH_LOGOUT_TOKEN_INVALID`);
    t.equal(res.body?.error, 'invalid_request', `${what}: an OAuth error`);
    t.equal(res.headers['cache-control'], 'no-store');
  }
  t.equal(await status(jar), 200, 'the session survived every broken token');
  t.ok(
    stack.logs.lines().some((l) => l.audit === 'backchannel-logout-refused' && l.code === 'GH_LOGOUT_TOKEN_INVALID'),
    'refusals are audited',
  );

  // the request itself
  const token = await stack.provider.sign(claims(sid));
  t.equal((await post('agent', JSON.stringify({ logout_token: token }), 'application/json')).status, 400, 'a JSON body is not the spec');
  t.equal((await post('agent', 'other=1')).status, 400, 'no logout_token');
  t.equal((await post('nope', new URLSearchParams({ logout_token: token }).toString())).body?.code, 'GH_UNKNOWN_REALM', 'an unknown realm');
  t.equal((await logout(token, 'user')).body?.code, 'GH_LOGOUT_TOKEN_INVALID', "the agent client's token at the user realm's endpoint (aud)");
  t.equal((await fetchWithJar(`${stack.publicUrl}/.gatehouse/backchannel-logout/agent`)).status, 404, 'GET is not an endpoint');
  t.equal(await status(jar), 200, 'still signed in');
});

t.test('a valid token with sid ends that provider session only, once', async (t) => {
  const first = await signedIn('/agent/', 'provider-sid-1');
  const second = await signedIn('/agent/', 'provider-sid-2');
  const token = await stack.provider.sign(claims({ sid: 'provider-sid-1' }));
  const res = await logout(token);
  t.equal(res.status, 200, '200');
  t.equal(res.headers['cache-control'], 'no-store', 'not cached (2.8)');
  t.equal(await status(first), 401, 'the session with that sid is ended');
  t.equal(await status(second), 200, 'a session of another provider session lives on');

  const replay = await logout(token);
  t.equal(replay.status, 400, 'the same token again: 400');
  t.equal(replay.body?.code, 'GH_LOGOUT_TOKEN_REPLAYED');
  // a replay must not end sessions started after the first use (the point of remembering jti)
  const later = await signedIn('/agent/', 'provider-sid-1');
  await logout(token);
  t.equal(await status(later), 200, 'a new session with the same sid survives the replay');
  const line = stack.logs.lines().find((l) => l.audit === 'backchannel-logout');
  t.equal(line?.by, 'provider-session');
  t.notOk(
    stack.logs.raw.some((l) => l.includes(token)),
    'the logout token is never logged',
  );
});

t.test('a valid token with only sub ends every session of the subject, in its realm only', async (t) => {
  const agentA = await signedIn('/agent/', 'sid-a');
  const agentB = await signedIn('/agent/', 'sid-b');
  const user = await signedIn('/', 'sid-c');
  t.equal(await status(user, '/api'), 200, 'signed in to the user realm too');
  const res = await logout(await stack.provider.sign(claims({ sid: undefined })));
  t.equal(res.status, 200);
  t.equal(await status(agentA), 401, 'every agent session of the subject ends');
  t.equal(await status(agentB), 401);
  t.equal(await status(user, '/api'), 200, "the user realm's session is another client's business");
  const userToken = await stack.provider.sign(claims({ sid: undefined, aud: 'hostile-user' }));
  t.equal((await logout(userToken, 'user')).status, 200, "the user client's token at the user realm");
  t.equal(await status(user, '/api'), 401);
});
