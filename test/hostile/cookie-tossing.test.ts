// Cookie tossing: a sibling subdomain (or a man in the middle on plain http) can
// set cookies for the gateway's host, but not `__Host-` ones (browsers require
// Secure, Path=/ and no Domain for them). With an https public_url every cookie
// Gatehouse sets must be `__Host-` prefixed, Secure, Path=/ and without Domain,
// and Gatehouse must read only the prefixed names: a tossed unprefixed (or
// differently cased) session or login-attempt cookie is ignored — signed out,
// GH_STATE_MISMATCH at the callback — so it cannot plant a login (login CSRF).
// The gateway runs behind a trusted TLS terminator here (X-Forwarded-Proto).
import t from 'tap';
import { request } from 'undici';
import { startHostileStack, authorizeAt, errorCode, type HostileStack } from '../helpers/hostile-provider.js';

const PUBLIC = 'https://helpdesk.example.com';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function viaTls(stack: HostileStack, path: string, cookie: string | undefined, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(`${stack.gateway.url}${path}`, {
    headers: {
      host: 'helpdesk.example.com',
      'x-forwarded-proto': 'https',
      accept: 'text/html',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
      ...(cookie ? { cookie } : {}),
      ...headers,
    },
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

function setCookies(answer: Answer): string[] {
  return [answer.headers['set-cookie']].flat().filter((l): l is string => typeof l === 'string');
}

function pairsOf(lines: string[]): Array<[string, string]> {
  return lines
    .map((l) => l.split(';')[0]!)
    .map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)] as [string, string])
    .filter(([, v]) => v !== '');
}

/** A sign-in through the TLS terminator; returns the cookies the browser would hold, by name. */
async function signInBehindTls(
  stack: HostileStack,
): Promise<{ attempt: [string, string]; session: Array<[string, string]>; callbackPath: string; lines: string[] }> {
  const start = await viaTls(stack, '/agent/', undefined);
  if (start.status !== 302) throw new Error(`expected 302, got ${start.status}`);
  const attempt = pairsOf(setCookies(start))[0]!;
  const callback = new URL(await authorizeAt(String(start.headers.location)));
  const callbackPath = callback.pathname + callback.search;
  const done = await viaTls(stack, callbackPath, `${attempt[0]}=${attempt[1]}`);
  if (done.status !== 302) throw new Error(`callback answered ${done.status}`);
  return { attempt, session: pairsOf(setCookies(done)), callbackPath, lines: [...setCookies(start), ...setCookies(done)] };
}

t.test('__Host- cookies, and tossed look-alikes are ignored', async (t) => {
  const stack = await startHostileStack({
    editYaml: (y) => y.replace(/^public_url: .*$/m, `public_url: ${PUBLIC}`).replace('public_paths:', 'trusted_proxies: [127.0.0.1/32]\npublic_paths:'),
  });
  t.teardown(() => stack.close());

  const plain = await request(`${stack.gateway.url}/agent/`, { headers: { host: 'helpdesk.example.com' } });
  await plain.body.dump();
  t.equal(plain.statusCode, 308, 'plain http is sent to https');
  t.equal(plain.headers.location, `${PUBLIC}/agent/`);

  const { attempt, session, lines } = await signInBehindTls(stack);
  for (const line of lines) {
    t.match(line, /^__Host-/, `prefixed: ${line.slice(0, 30)}`);
    t.match(line, /; Secure/, 'Secure');
    t.match(line, /; Path=\/(;|$)/, 'Path=/');
    t.notMatch(line, /domain=/i, 'no Domain');
  }
  const cookieHeader = session.map(([n, v]) => `${n}=${v}`).join('; ');
  t.equal((await viaTls(stack, '/agent/', cookieHeader, { accept: 'application/json' })).status, 200, 'the real cookie works');

  // the same values under names a sibling subdomain could set
  for (const rename of [
    (n: string) => n.replace(/^__Host-/, ''),
    (n: string) => n.replace(/^__Host-/, '__host-'),
    (n: string) => n.replace(/^__Host-/, '__Secure-'),
  ]) {
    const tossed = session.map(([n, v]) => `${rename(n)}=${v}`).join('; ');
    const answer = await viaTls(stack, '/agent/', tossed, { accept: 'application/json' });
    t.equal(answer.status, 401, `a session cookie tossed as ${rename('__Host-gatehouse-agent')} is ignored`);
  }

  // login CSRF by cookie tossing: the attacker's own attempt cookie, tossed without the prefix, plus the attacker's callback URL
  const attacker = await viaTls(stack, '/agent/', undefined);
  const [attemptName, attemptValue] = pairsOf(setCookies(attacker))[0]!;
  const attackerCallback = new URL(await authorizeAt(String(attacker.headers.location)));
  const tokenCalls = stack.provider.counts.token;
  const planted = await viaTls(stack, attackerCallback.pathname + attackerCallback.search, `${attemptName.replace(/^__Host-/, '')}=${attemptValue}`);
  t.equal(planted.status, 400);
  t.equal(
    errorCode({ body: planted.body, headers: planted.headers as Record<string, string> }),
    'GH_STATE_MISMATCH',
    "a tossed login attempt is not this browser's",
  );
  t.equal(stack.provider.counts.token, tokenCalls, "the attacker's code was not redeemed");
  t.ok(attempt[0].startsWith('__Host-gatehouse-login-'));
});
