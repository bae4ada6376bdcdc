// Re-authorization when the refresh brings no ID token (issue 11, finding 4),
// on an injected clock (tokens for 60 s: a refresh is due after 45 s):
// - with provider.userinfo on, userinfo's claims replace the session's and are
//   judged by the allow rules; a userinfo that cannot be reached keeps the
//   session (and the rotated refresh token) until the old tokens expire, then
//   503 GH_REFRESH_UNAVAILABLE, and the session resumes when it is back;
// - with userinfo off, the provider only renews the grant: the claims stand and
//   the provider is asked once per interval, not on every request.
import t from 'tap';
import { fetchWithJar, type CookieJar } from '../helpers/browserless.js';
import { signInVia, startHostileStack, type HostileStack } from '../helpers/hostile-provider.js';
import { startRefreshingTokenEndpoint, type RefreshingTokenEndpoint } from './fixtures/refreshing-token-endpoint.js';
import { XHR } from './fixtures/cluster.js';

let offsetMs = 0;
const now = (): number => Date.now() + offsetMs;
const advance = (ms: number): void => {
  offsetMs += ms;
};

const AGENTS_ONLY = (yaml: string): string =>
  yaml.replace(
    '      client_secret: hostile-agent-secret-0123456789abcdef\n',
    '      client_secret: hostile-agent-secret-0123456789abcdef\n      userinfo: true\n    allow:\n      claims:\n        groups: [helpdesk-agents]\n',
  );

async function start(t: Tap.Test, editYaml?: (yaml: string) => string): Promise<{ stack: HostileStack; endpoint: RefreshingTokenEndpoint }> {
  offsetMs = 0;
  let endpoint!: RefreshingTokenEndpoint;
  const stack = await startHostileStack({
    now,
    ...(editYaml ? { editYaml } : {}),
    beforeGateway: async (provider) => {
      endpoint = await startRefreshingTokenEndpoint(provider, now);
      provider.discoveryOverrides.token_endpoint = endpoint.url;
      provider.discoveryOverrides.userinfo_endpoint = endpoint.userinfoUrl;
      provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, iat: Math.floor(now() / 1000), exp: Math.floor(now() / 1000) + 300 });
    },
  });
  t.teardown(async () => {
    await stack.close();
    await endpoint.close();
  });
  endpoint.idToken = false; // the refresh answers carry no ID token
  return { stack, endpoint };
}

async function signedIn(stack: HostileStack): Promise<CookieJar> {
  const { jar, callback } = await signInVia(stack, '/agent/');
  if (callback.status !== 302) throw new Error(`sign-in failed: ${callback.status} ${callback.body.slice(0, 300)}`);
  return jar;
}

const xhr = async (stack: HostileStack, jar: CookieJar) => {
  const res = await fetchWithJar(`${stack.publicUrl}/agent/api`, { jar, headers: XHR });
  return { status: res.status, error: res.status !== 200 ? (JSON.parse(res.body) as { error: string }).error : undefined };
};
const lastSeen = (stack: HostileStack) => stack.upstream.requests.at(-1)?.headers;

t.test('userinfo on, no ID token in the refresh: userinfo decides, and a refusal ends the session', async (t) => {
  const { stack, endpoint } = await start(t, AGENTS_ONLY);
  const jar = await signedIn(stack);
  t.equal((await xhr(stack, jar)).status, 200);
  t.equal(endpoint.userinfoCalls, 1, 'userinfo at sign-in');

  stack.provider.profile = { ...stack.provider.profile, name: 'Alice Renamed' };
  advance(46_000);
  t.equal((await xhr(stack, jar)).status, 200);
  t.equal(endpoint.refreshes, 1);
  t.equal(endpoint.userinfoCalls, 2, 'userinfo again with the new access token');
  t.equal(lastSeen(stack)?.['x-auth-name'], 'Alice Renamed', 'the helpdesk sees the name userinfo gives now');

  stack.provider.profile = { ...stack.provider.profile, groups: ['customers'] };
  const removedAt = stack.upstream.requests.length;
  advance(46_000);
  const refused = await xhr(stack, jar);
  t.equal(refused.status, 401, 'no longer an agent: signed out');
  t.equal(refused.error, 'GH_NOT_SIGNED_IN');
  t.match(
    stack.logs.lines().find((l) => l.audit === 'session-ended'),
    { reason: 'GH_ALLOW_CLAIM', realm: 'agent' },
  );
  t.equal(stack.upstream.requests.length, removedAt, 'the helpdesk received nothing more');
});

t.test('userinfo unreachable at a refresh: the session and its rotated refresh token are kept; the old claims stand until the old tokens expire', async (t) => {
  const { stack, endpoint } = await start(t, AGENTS_ONLY);
  const jar = await signedIn(stack);
  endpoint.userinfoDown = true;
  advance(46_000);
  t.equal((await xhr(stack, jar)).status, 200, 'an outage signs no one out');
  t.equal(endpoint.refreshes, 1);
  t.ok(
    stack.logs.lines().some((l) => l.code === 'GH_REFRESH_UNAVAILABLE'),
    'the failed check is logged',
  );
  t.equal((await xhr(stack, jar)).status, 200, 'retried after a pause, not on every request');
  t.equal(endpoint.refreshes, 1);

  advance(15_000); // past the expiry of the tokens the claims were last checked with (60 s)
  const past = await fetchWithJar(`${stack.publicUrl}/agent/api`, { jar, headers: XHR });
  t.equal(past.status, 503, 'then the old claims no longer carry the session, not even for the request that tried again');
  t.equal(JSON.parse(past.body).error, 'GH_REFRESH_UNAVAILABLE');
  t.match(String(past.headers['set-cookie']), /gatehouse-agent=[^;]+/, 'the answer still hands over the refreshed session (its rotated refresh token)');
  t.equal(endpoint.refreshes, 2, 'that request did try again');
  t.equal((await xhr(stack, jar)).error, 'GH_REFRESH_UNAVAILABLE', 'and the next one, within the pause, is refused without a provider call');
  t.equal(endpoint.refreshes, 2);

  endpoint.userinfoDown = false;
  advance(6_000);
  t.equal((await xhr(stack, jar)).status, 200, 'userinfo back: the session resumes by itself');
  t.equal(stack.logs.lines().filter((l) => l.audit === 'session-ended').length, 0, 'no spent refresh token was presented again (rotation)');
});

t.test('userinfo off and no ID token in the refresh: the grant is renewed, the claims stand, one provider call per interval', async (t) => {
  const { stack, endpoint } = await start(t);
  const jar = await signedIn(stack);
  endpoint.expiresIn = 3600; // tokens for an hour: only re-authorization sends the session to the provider
  stack.provider.profile = { ...stack.provider.profile, name: 'Not Seen' };
  advance(15 * 60_000 + 1000);
  t.equal((await xhr(stack, jar)).status, 200);
  t.equal(endpoint.refreshes, 1, 're-authorized once');
  for (let i = 0; i < 5; i++) t.equal((await xhr(stack, jar)).status, 200);
  t.equal(endpoint.refreshes, 1, 'not on every request');
  t.equal(lastSeen(stack)?.['x-auth-name'], 'Alice Agent', 'nothing new to read: the sign-in claims stand');
  advance(15 * 60_000 + 1000);
  t.equal((await xhr(stack, jar)).status, 200);
  t.equal(endpoint.refreshes, 2, 'the next interval');
});
