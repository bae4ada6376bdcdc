// Nothing secret is ever logged. The whole life of sessions — sign-ins through
// the hand-written provider and through the real oidc-provider, forwarded
// requests carrying cookies and authorization headers, failed callbacks of many
// kinds, back-channel-less and provider logout — runs with the log at trace level
// and the access log on, captured in memory. No token (ID, access, refresh,
// identity assertion), authorization code, state, nonce, PKCE verifier, cookie
// value, logout form token, client secret or session secret may appear in any
// line, whole or in part.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  startHostileStack,
  signInVia,
  beginSignIn,
  authorizeAt,
  arriveAtCallback,
  fetchAsScript,
  captureLogs,
  newSigningKey,
  NAVIGATION,
  SESSION_SECRET,
  type HostileStack,
  type LogCapture,
} from '../helpers/hostile-provider.js';
import { CookieJar, fetchWithJar, parseForms, signIn, signOut } from '../helpers/browserless.js';
import { startDemoStack } from '../../src/demo/stack.js';
import type { Gateway } from '../../src/gateway.js';
import { joinChunks } from '../../src/session/codec.js';

const traced = (yaml: string): string => yaml.replace(/^log:\n {2}level: .*$/m, 'log:\n  level: trace\n  access: true');

/** Values that must never be logged, from what the browsers hold and what the gateway keeps. */
async function secretsOf(gw: Gateway, origin: string, jars: CookieJar[]): Promise<string[]> {
  const out: string[] = [];
  for (const jar of jars) {
    for (const cookie of jar.all(origin)) out.push(cookie.value);
    const byName = Object.fromEntries(jar.all(origin).map((c) => [c.name, c.value]));
    for (const realm of gw.runtime.realms.values()) {
      const value = joinChunks(byName, realm.cookieName);
      if (value === undefined) continue;
      out.push(value);
      const session = await gw.store.load(realm, value);
      if (session?.idToken) out.push(session.idToken);
      if (session?.refreshToken) out.push(session.refreshToken);
    }
  }
  const secret = gw.runtime.config.session.secret;
  out.push(...(Array.isArray(secret) ? secret : [secret]));
  for (const realm of Object.values(gw.runtime.config.realms)) if (realm.provider.client_secret) out.push(realm.provider.client_secret);
  return out;
}

/** Every secret, whole, and a 16-character piece of its middle (a truncated or split token still leaks). */
function assertNotLogged(t: Tap.Test, logs: LogCapture, secrets: string[], label: string): void {
  const text = logs.raw.join('\n');
  let checked = 0;
  for (const secret of new Set(secrets)) {
    if (secret.length < 12) continue;
    checked++;
    const middle = secret.slice(Math.floor(secret.length / 2) - 8, Math.floor(secret.length / 2) + 8);
    if (text.includes(secret) || text.includes(middle)) {
      const line = logs.raw.find((l) => l.includes(middle)) ?? '';
      t.fail(`${label}: a secret (${secret.slice(0, 6)}…, ${secret.length} chars) is in the log: ${line.slice(0, 300)}`);
    }
  }
  t.ok(checked > 10, `${label}: ${checked} secrets checked against ${logs.raw.length} log lines`);
}

declare namespace Tap {
  type Test = { ok(v: unknown, m?: string): unknown; fail(m: string): unknown; equal(a: unknown, b: unknown, m?: string): unknown };
}

/** Every cookie value any jar is given from now on (sign-out clears them from the jars). */
function recordCookieValues(t: { teardown(fn: () => void): unknown }): string[] {
  const holdings: string[] = [];
  const original = CookieJar.prototype.setCookie;
  CookieJar.prototype.setCookie = function (url, line) {
    const value = line.split(';')[0]!.split('=').slice(1).join('=');
    if (value) holdings.push(value);
    return original.call(this, url, line);
  };
  t.teardown(() => {
    CookieJar.prototype.setCookie = original;
  });
  return holdings;
}

async function hostileScenario(stack: HostileStack): Promise<CookieJar[]> {
  const jars: CookieJar[] = [];
  // sign-ins in both realms, requests that carry secrets in headers and queries
  for (const path of ['/agent/', '/tickets']) {
    const { jar, callback } = await signInVia(stack, path);
    if (callback.status !== 302) throw new Error(`sign-in failed: ${callback.status}`);
    jars.push(jar);
    await fetchAsScript(stack, `${path}?access_token=${randomBytes(24).toString('base64url')}`, jar, {
      authorization: `Bearer ${stack.provider.issued.at(-1)}`,
    });
  }
  // failures of many kinds
  const stranger = await newSigningKey('RS256');
  const failures: Array<() => void> = [
    () => {
      stack.provider.forgeIdToken = (ctx) => ctx.sign(ctx.claims, { key: stranger });
    },
    () => {
      stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, nonce: 'wrong-nonce-value-0123456789' });
    },
    () => {
      stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, exp: 1000 });
    },
    () => {
      stack.provider.onToken = () => ({ status: 400, body: { error: 'invalid_grant', error_description: 'nope' } });
    },
    () => {
      stack.provider.onToken = () => ({ contentType: 'text/html', body: '<html>' });
    },
    () => {
      stack.provider.onAuthorize = (p) => ({ ...p, iss: 'https://evil.example/' });
    },
    () => {
      stack.provider.onAuthorize = (p) => ({ ...p, state: randomBytes(32).toString('base64url') });
    },
    () => {
      stack.provider.onAuthorize = ({ code: _c, ...p }) => ({ ...p, error: 'access_denied' });
    },
  ];
  for (const arrange of failures) {
    stack.provider.forgeIdToken = null;
    stack.provider.onToken = null;
    stack.provider.onAuthorize = null;
    arrange();
    const { jar } = await signInVia(stack);
    jars.push(jar);
  }
  stack.provider.forgeIdToken = null;
  stack.provider.onToken = null;
  stack.provider.onAuthorize = null;
  // a replayed callback, with its attempt cookie
  const replay = await beginSignIn(stack);
  const attempt = replay.jar.all(stack.publicUrl).find((c) => c.name.startsWith('gatehouse-login-'))!;
  const callbackUrl = await authorizeAt(replay.authorizeUrl);
  await arriveAtCallback(callbackUrl, replay.jar);
  const copy = new CookieJar();
  copy.setCookie(stack.publicUrl, `${attempt.name}=${attempt.value}; Path=/`);
  await arriveAtCallback(callbackUrl, copy);
  jars.push(replay.jar, copy);
  // a tampered session cookie
  const tampered = new CookieJar();
  const value = jars[0]!.all(stack.publicUrl).find((c) => c.name === 'gatehouse-agent')!.value;
  tampered.setCookie(stack.publicUrl, `gatehouse-agent=${value.slice(0, -4)}AAAA; Path=/`);
  await fetchAsScript(stack, '/agent/', tampered);
  jars.push(tampered);
  // sign-out through the confirmation form (its token is a secret too)
  const page = await fetchWithJar(`${stack.publicUrl}/agent/logout`, { jar: jars[0]!, headers: { ...NAVIGATION } });
  const csrf = parseForms(page.body, `${stack.publicUrl}/agent/logout`)[0]?.fields.find((f) => f.name === 'csrf')?.value ?? '';
  await fetchWithJar(`${stack.publicUrl}/agent/logout`, {
    jar: jars[0]!,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `csrf=${encodeURIComponent(csrf)}`,
  });
  stack.provider.issued.push(csrf);
  // the helpdesk goes away: an upstream failure is logged too
  await stack.upstream.close();
  await fetchAsScript(stack, '/tickets?secret=x', jars[1]!);
  return jars;
}

t.test('hostile-provider flows at trace level', async (t) => {
  const logs = captureLogs('trace');
  const stack = await startHostileStack({ logs, editYaml: traced });
  t.teardown(() => stack.close());
  const holdings = recordCookieValues(t);
  const jars = await hostileScenario(stack);
  const assertions = stack.upstream.requests.flatMap((r) => [r.headers['x-auth-assertion']].flat()).filter((v): v is string => typeof v === 'string');
  t.ok(assertions.length >= 2, 'identity assertions were forwarded');
  const lines = logs.lines();
  t.ok(
    lines.some((l) => l.audit === 'sign-in'),
    'sign-ins were logged',
  );
  t.ok(lines.filter((l) => l.audit === 'sign-in-failed').length >= 8, 'failures were logged');
  t.ok(
    lines.some((l) => l.access === true),
    'the access log was on',
  );
  t.equal(logs.logger.level, 'trace', 'the capture would have seen trace and debug lines');
  const secrets = [...(await secretsOf(stack.gateway.gw, stack.publicUrl, jars)), ...holdings, ...stack.provider.issued, ...assertions, SESSION_SECRET];
  assertNotLogged(t, logs, secrets, 'hostile provider');
});

t.test('real oidc-provider flows at trace level', async (t) => {
  const logs = captureLogs('trace');
  const stack = await startDemoStack({ logger: logs.logger, editYaml: traced });
  t.teardown(() => stack.close());
  const holdings = recordCookieValues(t);
  const alice = await signIn(`${stack.publicUrl}/agent/tickets`, { username: 'alice', password: 'alice-demo' });
  t.equal(alice.final.status, 200, 'alice signed in');
  const bob = await signIn(`${stack.publicUrl}/`, { username: 'bob', password: 'bob-demo' });
  const wrong = await signIn(`${stack.publicUrl}/agent/`, { username: 'alice', password: 'not-her-password' });
  const jars = [alice.jar, bob.jar, wrong.jar];
  const before = await secretsOf(stack.gateway.gw, stack.publicUrl, jars);
  // the authorization responses the browsers carried: code, state (and iss)
  const fromCallbacks = [...alice.hops, ...bob.hops].flatMap((hop) => {
    const url = new URL(hop);
    return url.searchParams.has('code') ? [url.searchParams.get('code')!, url.searchParams.get('state')!] : [];
  });
  t.ok(fromCallbacks.length >= 4, 'codes and states were seen');
  before.push(...fromCallbacks);
  await signOut(`${stack.publicUrl}/agent/logout`, { jar: alice.jar });
  t.ok(logs.raw.length > 5, `${logs.raw.length} lines captured`);
  // the demo helpdesk echoes what it received, X-Auth-Assertion included (possibly wrapped on the page)
  const assertions = [...alice.final.body.replace(/<[^>]*>|\s/g, '').matchAll(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/g)].map((m) => m[0]);
  t.ok(assertions.length >= 1, 'the identity assertion the helpdesk saw is checked too');
  assertNotLogged(t, logs, [...before, ...holdings, ...assertions, ...(await secretsOf(stack.gateway.gw, stack.publicUrl, jars))], 'oidc-provider');
});
