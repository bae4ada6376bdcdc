// A sign-in start trusts the last look at the provider for 1 s (docs/operations.md),
// measured on the gateway's clock (injected here and moved by hand, never slept on): a
// provider that has been stopped is looked at again before anyone is sent to
// it, and 40 sign-ins at once get the 503 page, not a redirect (issue 12,
// finding 3: with a 5 s trust, 7 of 40 were sent to the dead provider). The
// look is single-flight: concurrent sign-in starts share one request to the
// provider, and within the trust none is made.
import t from 'tap';
import { claimPort } from '../helpers/ports.js';
import { parseConfigText } from '../../src/config/load.js';
import { startGateway } from '../../src/server.js';
import { captureLogger, startTestStack } from '../helpers/stack.js';
import { minimalYaml, startFakeProvider } from '../helpers/ops.js';

const DISCOVERY = '/.well-known/openid-configuration';
/** what docs/operations.md promises: no one is sent to a provider whose last answer is this old */
const TRUST_MS = 1000;

/** A clock that moves only when told to: real time passing during the test never expires the trust. */
function handClock(): { now: () => number; advance(ms: number): void } {
  let at = Date.now();
  return {
    now: () => at,
    advance: (ms) => {
      at += ms;
    },
  };
}

async function signInStarts(base: string, n: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(`${base}/.gatehouse/login?realm=agent&rd=/agent/`, { redirect: 'manual', headers: { accept: 'text/html' } });
      await res.arrayBuffer();
      return res.status;
    }),
  );
}

t.test('the real provider stopped: once its last answer is older than the trust, 40 sign-ins get the 503 page', async (t) => {
  const clock = handClock();
  const stack = await startTestStack({ now: clock.now });
  t.teardown(() => stack.close());
  t.same(await signInStarts(stack.publicUrl, 1), [302], 'sent to the provider while it answers');
  await stack.provider.close();
  clock.advance(TRUST_MS);
  const statuses = await signInStarts(stack.publicUrl, 40);
  t.same(
    statuses.filter((s) => s !== 503),
    [],
    `none of 40 sent to the stopped provider (${statuses.filter((s) => s === 302).length} redirects)`,
  );
  t.ok(
    stack.logs.lines.some((l) => l.msg === 'provider discovery failed'),
    'the failed look is logged',
  );
});

t.test('a look older than the trust is renewed once for all sign-ins waiting; within the trust, none', async (t) => {
  const provider = await startFakeProvider();
  t.teardown(() => provider.close());
  const clock = handClock();
  const port = claimPort().port;
  const { config } = parseConfigText(minimalYaml({ issuer: provider.issuer, publicUrl: `http://127.0.0.1:${port}` }), '(test)', {});
  const running = await startGateway({ config, file: '(test)', port, host: '127.0.0.1', logger: captureLogger('warn').logger, now: clock.now });
  t.teardown(() => running.close());
  await running.gw.runtime.realms.get('agent')!.provider.ensureReady();
  const looks = () => provider.hits.filter((h) => h === DISCOVERY).length;

  const before = looks();
  t.same(new Set(await signInStarts(running.url, 40)), new Set([302]));
  t.equal(looks() - before, 0, 'within the trust: no request to the provider');

  clock.advance(TRUST_MS);
  const stale = looks();
  t.same(new Set(await signInStarts(running.url, 40)), new Set([302]));
  t.equal(looks() - stale, 1, '40 sign-in starts after the trust ran out: one look, shared');
});
