// A cached session keeps neither its ID token nor its claims (most of a
// session's memory, bench/session-memory.mjs): the claims were judged into the
// entry's verdict, the ID token is only logout's hint. A touch writes the
// session back from its entry, so it must take both from the cookie value
// again: the re-sealed cookie carries the same ID token (logout still sends
// id_token_hint) and the same claims (the allow rules still pass after a reload).
// Real parts: the demo provider, the gateway, an injected clock (touch interval 60 s).
import t from 'tap';
import { decodeJwt } from 'jose';
import { fetchWithJar } from '../helpers/browserless.js';
import { ALICE, setCookies, startTestStack, testClock } from '../helpers/stack.js';
import { open } from '../../src/session/codec.js';
import type { SessionData } from '../../src/session/session.js';

t.test('the cache entry holds no ID token or claims; a touch re-seals both from the cookie', async (t) => {
  const clock = testClock();
  const stack = await startTestStack({ now: clock.now });
  t.teardown(() => stack.close());
  const name = stack.cookieName('agent');
  const { jar } = await stack.signIn('/agent/', ALICE);
  const v1 = jar.get(stack.publicUrl, name)!;
  const keys = stack.gw.runtime.realms.get('agent')!.sealKeys;
  const call = (value: string) => fetchWithJar(`${stack.publicUrl}/agent/api/whoami`, { headers: { accept: 'application/json', cookie: `${name}=${value}` } });
  t.equal((await call(v1)).status, 200);
  const entry = stack.gw.cache.get(v1);
  t.ok(entry, 'the session is cached');
  t.equal(entry!.session.idToken, undefined, 'no ID token in the cache entry');
  t.same(entry!.session.claims, {}, 'no claims in the cache entry');

  const sealed1 = open<SessionData>(v1, keys);
  t.ok(sealed1?.idToken, 'the cookie carries the ID token');
  t.ok(Object.keys(sealed1!.claims).length > 0, 'and the claims');

  clock.advance(61_000); // past the touch interval: re-sealed from the cache entry
  const touch = await call(v1);
  t.equal(touch.status, 200);
  const line = setCookies(touch.headers).find((l) => l.startsWith(`${name}=`));
  t.ok(line, 'the touch re-sealed the cookie');
  const v2 = line!.slice(name.length + 1).split(';')[0]!;
  const sealed2 = open<SessionData>(v2, keys);
  t.ok(sealed2, 'the new value opens');
  t.equal(sealed2!.idToken, sealed1!.idToken, 'the same ID token, taken from the cookie again');
  t.equal(decodeJwt(sealed2!.idToken!).sub, 'user-alice');
  t.same(sealed2!.claims, sealed1!.claims, 'the same claims');
  t.ok(sealed2!.seenAt > sealed1!.seenAt, 'last seen moved');
  t.equal(stack.gw.cache.get(v2)!.session.idToken, undefined, 'the successor entry holds no ID token either');

  // and a touch of the successor (answered from its own entry, nothing opened by this request)
  t.equal((await call(v2)).status, 200);
  clock.advance(61_000);
  const again = await call(v2);
  const v3 = setCookies(again.headers)
    .find((l) => l.startsWith(`${name}=`))!
    .slice(name.length + 1)
    .split(';')[0]!;
  t.equal(open<SessionData>(v3, keys)!.idToken, sealed1!.idToken, 'a second touch keeps it too');
  t.same(open<SessionData>(v3, keys)!.claims, sealed1!.claims);
});
