// Adversarial pass on forward-auth: a session too large for one cookie (many
// groups) is sealed into chunks, each its own Set-Cookie. When Gatehouse seals
// it again on a check (the idle touch), every chunk must reach the browser
// through the proxy, or the session the browser holds is broken. Through real
// nginx and real Caddy running their documented snippets.
import t from 'tap';
import { fetchWithJar } from '../helpers/browserless.js';
import { DEMO_ACCOUNTS } from '../../src/demo/provider.js';
import { testClock } from '../helpers/stack.js';
import { startCaddyForwardAuth } from '../helpers/caddy.js';
import { startForwardAuthStack } from '../helpers/forward-auth-stack.js';
import { startNginxForwardAuth } from './fronts.js';

const DAVE = { username: 'dave', password: 'dave-demo' };
const groups = ['helpdesk-agents', ...Array.from({ length: 50 }, (_, i) => `helpdesk-queue-${String(i).padStart(3, '0')}-escalations`)];
const accounts = [
  ...DEMO_ACCOUNTS,
  { username: 'dave', password: 'dave-demo', sub: 'user-dave', email: 'dave@example.com', email_verified: true, name: 'Dave Many-Groups', groups },
];

for (const [name, proxy] of [
  ['nginx', startNginxForwardAuth],
  ['caddy', startCaddyForwardAuth],
] as const) {
  t.test(`${name}: a session in several cookies, sealed again on a check, stays whole in the browser`, async (t) => {
    const clock = testClock();
    const stack = await startForwardAuthStack({ proxy, accounts, now: clock.now });
    t.teardown(() => stack.close());
    const flow = await stack.signIn('/agent', DAVE);
    t.equal(flow.final.status, 200, `signed in (${flow.final.status})`);
    if (flow.final.status !== 200 && 'errorLog' in stack.proxy) t.comment(await (stack.proxy as { errorLog(): Promise<string> }).errorLog());
    const cookieName = stack.cookieName('agent');
    const chunks = (): string[] =>
      flow.jar
        .all(stack.publicUrl)
        .filter((c) => c.name === cookieName || c.name.startsWith(`${cookieName}.`))
        .map((c) => `${c.name}=${c.value}`);
    const atSignIn = chunks();
    t.ok(atSignIn.length >= 2, `the session takes ${atSignIn.length} cookies`);
    clock.advance(40 * 60_000); // idle_timeout 1h: due a touch
    const touched = await fetchWithJar(`${stack.publicUrl}/agent/queue`, { jar: flow.jar, headers: { accept: 'application/json' } });
    t.equal(touched.status, 200, 'the check sealed it again and the helpdesk answered');
    const after = chunks();
    t.not(after.join(';'), atSignIn.join(';'), 'the browser holds the new value');
    clock.advance(40 * 60_000); // 80 min after sign-in: only the new value is still within idle_timeout
    const later = await fetchWithJar(`${stack.publicUrl}/agent/queue`, { jar: flow.jar, headers: { accept: 'application/json' } });
    t.equal(later.status, 200, `still signed in with what the browser holds (${later.status})`);
    t.equal((JSON.parse(later.body || '{}') as { headers?: Record<string, string> }).headers?.['x-auth-subject'], 'user-dave');
  });
}
