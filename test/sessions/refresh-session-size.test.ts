// The session size cap holds at refresh too (issue 11, finding 9). A browser
// sends back at most MAX_CHUNKS cookie chunks; sign-in drops the ID token (kept
// only as logout's id_token_hint) when the session would not fit. A refresh
// puts a new ID token back: if that no longer fits, the ID token is dropped
// again and the person stays signed in (before, the value went out in more than
// 8 chunks and the next request was silently signed out). Claims too large even
// without it end the session with an audit line, never a silent sign-out.
import t from 'tap';
import { fetchWithJar, type CookieJar } from '../helpers/browserless.js';
import { signInVia, startHostileStack } from '../helpers/hostile-provider.js';
import { open, MAX_CHUNKS } from '../../src/session/codec.js';
import type { SessionData } from '../../src/session/session.js';
import { startRefreshingTokenEndpoint, type RefreshingTokenEndpoint } from './fixtures/refreshing-token-endpoint.js';
import { XHR } from './fixtures/cluster.js';

let offsetMs = 0;
const now = (): number => Date.now() + offsetMs;
let endpoint!: RefreshingTokenEndpoint;
const stack = await startHostileStack({
  now,
  // the groups claim is kept twice in the session (the identity, and the claims the allow rules re-check)
  editYaml: (yaml) =>
    yaml.replace(
      '      client_secret: hostile-agent-secret-0123456789abcdef\n',
      '      client_secret: hostile-agent-secret-0123456789abcdef\n    allow:\n      claims:\n        groups: [helpdesk-agents]\n',
    ),
  beforeGateway: async (provider) => {
    endpoint = await startRefreshingTokenEndpoint(provider, now);
    provider.discoveryOverrides.token_endpoint = endpoint.url;
    provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, iat: Math.floor(now() / 1000), exp: Math.floor(now() / 1000) + 300 });
  },
});
t.teardown(async () => {
  await stack.close();
  await endpoint.close();
});

const realm = () => stack.gateway.gw.runtime.realms.get('agent')!;
const chunksIn = (setCookie: string | string[] | undefined) =>
  ([] as string[]).concat(setCookie ?? []).filter((line) => /^gatehouse-agent(\.\d+)?=[^;]/.test(line)).length;
const xhr = (jar: CookieJar) => fetchWithJar(`${stack.publicUrl}/agent/api`, { jar, headers: XHR });
const groups = (n: number, width: number) => ['helpdesk-agents', ...Array.from({ length: n }, (_, i) => `group-${String(i).padStart(width, '0')}`)];

async function signedIn(): Promise<CookieJar> {
  stack.provider.profile = { email: 'alice@example.com', email_verified: true, name: 'Alice Agent', groups: ['helpdesk-agents'] };
  const { jar, callback } = await signInVia(stack, '/agent/');
  if (callback.status !== 302) throw new Error(`sign-in failed: ${callback.status}`);
  return jar;
}

t.test('a refreshed ID token that no longer fits beside the claims: the ID token is dropped, the person stays signed in', async (t) => {
  const jar = await signedIn();
  // the provider now puts many groups and a large claim into the ID token (still under the 16 KB token limit)
  stack.provider.profile = { ...stack.provider.profile, groups: groups(100, 26), department: 'd'.repeat(7000) };
  offsetMs += 46_000;
  const refreshed = await xhr(jar);
  t.equal(refreshed.status, 200, 'refreshed');
  t.equal(endpoint.refreshes, 1);
  const chunks = chunksIn(refreshed.headers['set-cookie']);
  t.ok(chunks > 0 && chunks <= MAX_CHUNKS, `the refreshed session fits in ${MAX_CHUNKS} chunks (${chunks})`);
  const session = await open<SessionData>(
    jar.get(stack.publicUrl, 'gatehouse-agent')! +
      Array.from({ length: MAX_CHUNKS - 1 }, (_, i) => jar.get(stack.publicUrl, `gatehouse-agent.${i + 1}`) ?? '').join(''),
    realm().sealKeys,
  );
  t.equal(session?.idToken, undefined, 'without the ID token');
  t.equal(session?.groups?.length, 101, 'with the new claims');
  t.equal((await xhr(jar)).status, 200, 'the next request is still signed in');
  t.ok(
    stack.logs
      .lines()
      .some(
        (l) =>
          l.msg === 'session too large for the browser with the ID token: the ID token is not kept (logout will not send id_token_hint)' && l.realm === 'agent',
      ),
    'and it is logged',
  );
});

t.test('claims too large even without the ID token: the session ends with an audit line', async (t) => {
  const jar = await signedIn();
  const before = stack.logs.lines().filter((l) => l.audit === 'session-ended').length;
  stack.provider.profile = { ...stack.provider.profile, groups: groups(190, 50) };
  offsetMs += 46_000;
  const res = await xhr(jar);
  t.equal(res.status, 401, 'signed out, visibly');
  t.match(String(res.headers['set-cookie']), /gatehouse-agent=;/, 'the cookie is cleared');
  const ended = stack.logs.lines().filter((l) => l.audit === 'session-ended');
  t.equal(ended.length, before + 1);
  t.equal(ended.at(-1)?.reason, 'GH_TOKEN_RESPONSE_INVALID', 'the code a sign-in with such claims gets');
});
