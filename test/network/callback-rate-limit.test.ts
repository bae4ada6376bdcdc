// Repeated failed callbacks from one address (someone guessing states or
// replaying codes) are limited to limits.failed_callbacks_per_minute: beyond it
// Gatehouse answers 429 GH_RATE_LIMITED with Retry-After, without looking at the
// callback (no token endpoint call). Rotating X-Forwarded-For from an untrusted
// peer does not escape the limit; another address is not affected; behind a
// trusted proxy each forwarded client has its own budget; after the minute the
// address may try again.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { startHostileStack, rawRequest, signInVia, AGENT_CALLBACK, type HostileStack } from '../helpers/hostile-provider.js';

const LIMIT = 5;

function badCallback(stack: HostileStack, extra: string[] = []): string {
  const host = new URL(stack.publicUrl).host;
  const state = randomBytes(32).toString('base64url');
  return [
    `GET ${AGENT_CALLBACK}?code=x&state=${state}&iss=${encodeURIComponent(stack.provider.issuer)} HTTP/1.1`,
    `Host: ${host}`,
    'Accept: application/json',
    ...extra,
    'Connection: close',
    '',
    '',
  ].join('\r\n');
}
const status = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
const body = (answer: string): { error?: string } => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4) || '{}');

t.test('failed callbacks from one address are rate-limited', async (t) => {
  let offset = 0;
  const stack = await startHostileStack({
    now: () => Date.now() + offset,
    editYaml: (y) => y.replace('failed_callbacks_per_minute: 1000', `failed_callbacks_per_minute: ${LIMIT}`),
  });
  t.teardown(() => stack.close());
  for (let i = 0; i < LIMIT; i++) {
    const answer = await rawRequest(stack.gateway.url, badCallback(stack, [`X-Forwarded-For: 198.51.100.${i}`]));
    t.equal(status(answer), 400, `failure ${i + 1}: refused for what it is`);
    t.equal(body(answer).error, 'GH_STATE_MISMATCH');
  }
  const limited = await rawRequest(stack.gateway.url, badCallback(stack, ['X-Forwarded-For: 198.51.100.99']));
  t.equal(status(limited), 429, 'over the budget: 429, a fresh X-Forwarded-For does not help');
  t.equal(body(limited).error, 'GH_RATE_LIMITED');
  t.match(limited, /\r\nretry-after: 60\r\n/i);

  const tokenCalls = stack.provider.counts.token;
  const good = await signInVia(stack).catch(() => null);
  t.equal(good?.callback.status, 429, 'even a genuine callback waits out the minute');
  t.equal(stack.provider.counts.token, tokenCalls, 'a limited callback is not looked at');

  const other = await rawRequest(stack.gateway.url, badCallback(stack), { localAddress: '127.0.0.2' });
  t.equal(status(other), 400, 'another address is not limited');

  offset = 61_000;
  const later = await rawRequest(stack.gateway.url, badCallback(stack));
  t.equal(status(later), 400, 'after a minute the address may try again');
});

t.test('behind a trusted proxy each client has its own budget', async (t) => {
  const stack = await startHostileStack({
    editYaml: (y) =>
      y
        .replace('failed_callbacks_per_minute: 1000', `failed_callbacks_per_minute: ${LIMIT}`)
        .replace('public_paths:', 'trusted_proxies: [127.0.0.1/32]\npublic_paths:'),
  });
  t.teardown(() => stack.close());
  for (let i = 0; i < LIMIT + 1; i++) await rawRequest(stack.gateway.url, badCallback(stack, ['X-Forwarded-For: 203.0.113.1']));
  t.equal(status(await rawRequest(stack.gateway.url, badCallback(stack, ['X-Forwarded-For: 203.0.113.1']))), 429, 'the guessing client is limited');
  t.equal(
    status(await rawRequest(stack.gateway.url, badCallback(stack, ['X-Forwarded-For: 203.0.113.2']))),
    400,
    'another client behind the same proxy is not',
  );
});
