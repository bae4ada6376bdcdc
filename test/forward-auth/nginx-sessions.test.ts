// Sessions through nginx in front: a session Gatehouse seals again reaches the
// browser through nginx (the auth answer's Set-Cookie), so idle_timeout counts
// from the last request, not from the sign-in; and the provider's back-channel
// logout reaches Gatehouse through nginx and ends the session at once.
import t from 'tap';
import { fetchWithJar, signIn, signOut } from '../helpers/browserless.js';
import { ALICE, testClock } from '../helpers/stack.js';
import { startNginxFront } from './nginx-front.js';

const XHR = { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' };
const MINUTE = 60_000;

t.test('a session sealed again on the way reaches the browser through nginx, and keeps it signed in', async (t) => {
  const clock = testClock();
  const front = await startNginxFront({ now: clock.now });
  t.teardown(() => front.close());
  const flow = await signIn(`${front.publicUrl}/agent/`, ALICE);
  t.equal(flow.final.status, 200);
  const first = flow.jar.get(front.publicUrl, 'gatehouse-agent');
  // idle_timeout is 1h: two requests 40 minutes apart keep the session; the sign-in's own value would be idle by the second
  for (const step of [1, 2]) {
    clock.advance(40 * MINUTE);
    const res = await fetchWithJar(`${front.publicUrl}/agent/api/me`, { jar: flow.jar, headers: XHR });
    t.equal(res.status, 200, `request ${step}, ${step * 40} minutes after sign-in: signed in`);
    t.ok(res.headers['set-cookie'], `request ${step}: nginx passed on the re-sealed session`);
  }
  t.not(flow.jar.get(front.publicUrl, 'gatehouse-agent'), first, 'the browser holds the newer value');
  const stale = await fetchWithJar(`${front.publicUrl}/agent/api/me`, { headers: { ...XHR, cookie: `gatehouse-agent=${first}` } });
  t.equal(stale.status, 401, "the sign-in's own value, unused for 80 minutes, is idle: what the browser would hold without the Set-Cookie");
});

t.test("the provider's back-channel logout reaches Gatehouse through nginx", async (t) => {
  const front = await startNginxFront({ backchannelLogout: true });
  t.teardown(() => front.close());
  const delivered: string[] = [];
  front.provider.provider.on('backchannel.success', () => delivered.push('ok'));
  front.provider.provider.on('backchannel.error', (_ctx: unknown, error: Error) => delivered.push(`error: ${error.message}`));
  const flow = await signIn(`${front.publicUrl}/agent/`, ALICE);
  t.equal(flow.final.status, 200);
  const cookie = flow.jar.get(front.publicUrl, 'gatehouse-agent');
  // the person signs out at the provider (not through Gatehouse): only the back-channel call can tell Gatehouse
  const endSession = front.gateway.gw.runtime.realms.get('agent')!.provider.metadata!.end_session_endpoint!;
  await signOut(endSession, { jar: flow.jar, method: 'GET' });
  t.same(delivered, ['ok'], 'the provider delivered the logout token through nginx and got 200');
  t.ok(
    front.logs.lines.some((l) => l.audit === 'backchannel-logout'),
    'Gatehouse received it',
  );
  const res = await fetchWithJar(`${front.publicUrl}/agent/api/me`, { headers: { ...XHR, cookie: `gatehouse-agent=${cookie}` } });
  t.equal(res.status, 401, 'the session ended at once');
});
