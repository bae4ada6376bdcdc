// Open redirects: every place a browser can be sent after sign-in or sign-out —
// the `rd` of /.gatehouse/login (GET and the sign-in button's POST), the page a
// signed-out navigation asked for, and whatever a logout request carries — is
// fed URLs that lead elsewhere: protocol-relative, backslashes, dot segments that
// collapse to "//", encoded and control-character variants, userinfo tricks,
// look-alike origins. After the whole sign-in the Location must stay on
// public_url's origin (or an allowed_redirects origin), as a browser resolves it.
import t from 'tap';
import { startHostileStack, authorizeAt, arriveAtCallback, NAVIGATION, type HostileStack } from '../helpers/hostile-provider.js';
import { CookieJar, fetchWithJar } from '../helpers/browserless.js';

const ALLOWED = 'https://portal.example.com';

const PAYLOADS = [
  '//evil.com',
  '///evil.com',
  '////evil.com',
  '/\\evil.com',
  '\\\\evil.com',
  '/\\/evil.com',
  '\\/evil.com',
  '/.//evil.com',
  '/..//evil.com',
  '/a/..//evil.com',
  '/%2e//evil.com',
  '/%2E%2E//evil.com',
  '/././/evil.com',
  '/%2f%2fevil.com',
  '/%2F/evil.com',
  '/%5cevil.com',
  '/%5c%5cevil.com',
  '%2f%2fevil.com',
  '/\t/evil.com',
  '/\n/evil.com',
  '/%09/evil.com',
  '/%0d%0a/evil.com',
  '\u0000//evil.com',
  ' //evil.com',
  '/%00//evil.com',
  'https://evil.com',
  'http://evil.com',
  'HTTPS://EVIL.COM',
  'https:evil.com',
  'https:/evil.com',
  'https:\\\\evil.com',
  'https:/\\evil.com',
  '//evil.com@PUBLIC',
  'https://PUBLIC@evil.com',
  'https://PUBLIC.evil.com',
  'https://evil.com/PUBLIC',
  'https://evil.com#@PUBLIC',
  'https://evil.com?@PUBLIC',
  'PUBLIC_URL//evil.com',
  'PUBLIC_URL/.//evil.com',
  'PUBLIC_URL@evil.com',
  'PUBLIC_URL.evil.com',
  'https://portal.example.com.evil.com',
  'https://portal.example.com@evil.com',
  'http://portal.example.com',
  'https://portal.example.com:444',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  'java\tscript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'vbscript:x',
  'file:///etc/passwd',
  '/\u3002evil.com',
  '//evil%E3%80%82com',
  '/%E2%80%AE//evil.com',
  '//ⓔⓥⓘⓛ.com',
  'evil.com',
  '.evil.com',
  '@evil.com',
  '/' + 'a'.repeat(5000),
];

function expand(payload: string, stack: HostileStack): string {
  const host = new URL(stack.publicUrl).host;
  return payload.replace('PUBLIC_URL', stack.publicUrl).replace(/PUBLIC/g, host);
}

/** Where the browser would go, by the WHATWG URL rules browsers use. */
function destinationOrigin(location: string, stack: HostileStack): string {
  return new URL(location, `${stack.publicUrl}/agent/login/authenticate-callback/1`).origin;
}

async function finalLocation(stack: HostileStack, start: { url: string; method?: string; body?: string }): Promise<string> {
  const jar = new CookieJar();
  const first = await fetchWithJar(start.url, {
    jar,
    method: start.method ?? 'GET',
    headers: {
      ...NAVIGATION,
      ...(start.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded', origin: stack.publicUrl, 'sec-fetch-site': 'same-origin' } : {}),
    },
    ...(start.body !== undefined ? { body: start.body } : {}),
  });
  if (first.status !== 302) throw new Error(`start answered ${first.status} ${first.body.slice(0, 200)}`);
  const callback = await arriveAtCallback(await authorizeAt(String(first.headers.location)), jar);
  if (callback.status !== 302) throw new Error(`callback answered ${callback.status}`);
  return String(callback.headers.location);
}

t.test('rd of /.gatehouse/login never leads off-site', async (t) => {
  const stack = await startHostileStack({ editYaml: (y) => `${y}allowed_redirects: [${ALLOWED}]\n` });
  t.teardown(() => stack.close());
  const own = new URL(stack.publicUrl).origin;
  for (const raw of PAYLOADS) {
    const payload = expand(raw, stack);
    for (const how of ['GET', 'POST'] as const) {
      const location =
        how === 'GET'
          ? await finalLocation(stack, { url: `${stack.publicUrl}/.gatehouse/login?realm=agent&rd=${encodeURIComponent(payload)}` })
          : await finalLocation(stack, {
              url: `${stack.publicUrl}/.gatehouse/login`,
              method: 'POST',
              body: new URLSearchParams({ realm: 'agent', rd: payload }).toString(),
            });
      const origin = destinationOrigin(location, stack);
      t.ok(origin === own || origin === ALLOWED, `${how} rd=${JSON.stringify(payload.slice(0, 60))} → ${JSON.stringify(location.slice(0, 80))}`);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the assertion is that Location holds no control character
      t.notMatch(location, /^\/[/\\]|[\u0000-\u001f\u007f]/, 'no protocol-relative or control characters in Location');
    }
  }
  // what should work, does
  t.equal(
    await finalLocation(stack, { url: `${stack.publicUrl}/.gatehouse/login?realm=agent&rd=${encodeURIComponent('/agent/tickets/7?tab=a#top')}` }),
    '/agent/tickets/7?tab=a#top',
  );
  t.equal(
    await finalLocation(stack, { url: `${stack.publicUrl}/.gatehouse/login?realm=agent&rd=${encodeURIComponent(`${ALLOWED}/home`)}` }),
    `${ALLOWED}/home`,
  );
});

t.test('the page a signed-out navigation asked for', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const own = new URL(stack.publicUrl).origin;
  for (const path of [
    '//evil.com/',
    '//evil.com/agent',
    '/.//evil.com',
    '/agent/..//evil.com',
    '/agent/.%2f/evil.com',
    '/%2e%2e//evil.com',
    '///evil.com/x?y=//evil.com',
  ]) {
    const jar = new CookieJar();
    const first = await fetchWithJar(`${stack.publicUrl}${path}`, { jar, headers: { ...NAVIGATION } });
    if (first.status !== 302) {
      t.ok(first.status >= 400 && first.status < 500, `${path}: refused with ${first.status}`);
      continue;
    }
    const callback = await arriveAtCallback(await authorizeAt(String(first.headers.location)), jar);
    const location = String(callback.headers.location);
    t.equal(destinationOrigin(location, stack), own, `${path} → ${location}`);
    t.notMatch(location, /^\/[/\\]/);
  }
});

t.test('logout takes no redirect target from the request', async (t) => {
  const stack = await startHostileStack({
    beforeGateway: (p) => {
      p.discoveryOverrides = { end_session_endpoint: `${p.url}/logout` };
    },
  });
  t.teardown(() => stack.close());
  const { signInVia } = await import('../helpers/hostile-provider.js');
  const evil = 'https://evil.com/';
  for (const method of ['POST', 'GET'] as const) {
    const { jar } = await signInVia(stack);
    const query = new URLSearchParams({ rd: evil, post_logout_redirect_uri: evil, return_to: evil, redirect_uri: evil, next: evil }).toString();
    const answer = await fetchWithJar(`${stack.publicUrl}/agent/logout?${query}`, {
      jar,
      method,
      headers: {
        ...NAVIGATION,
        ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded', origin: stack.publicUrl, 'sec-fetch-site': 'same-origin' } : {}),
      },
      ...(method === 'POST' ? { body: query } : {}),
    });
    if (method === 'GET') {
      t.equal(answer.status, 200, 'GET only shows the confirmation page');
      t.notMatch(answer.body, /evil\.com/);
      continue;
    }
    t.equal(answer.status, 303);
    const location = new URL(String(answer.headers.location));
    t.equal(location.origin, stack.provider.url, "to the provider's end_session_endpoint");
    t.equal(location.searchParams.get('post_logout_redirect_uri'), `${stack.publicUrl}/agent`, 'with the configured post-logout target');
    t.notMatch(location.href, /evil\.com/);
  }
});

t.test('post_logout_redirect in the config must stay on allowed origins', async (t) => {
  const { parseConfigText } = await import('../../src/config/load.js');
  const { hostileYaml } = await import('../helpers/hostile-provider.js');
  const base = hostileYaml({ publicUrl: 'http://127.0.0.1:8080', issuer: 'http://127.0.0.1:9/', upstream: 'http://127.0.0.1:9', port: 8080 });
  for (const target of ['https://evil.com/', '//evil.com', '/\\evil.com', 'javascript:alert(1)']) {
    const yaml = base.replace('    logout_path: /agent/logout\n', `    logout_path: /agent/logout\n    post_logout_redirect: ${JSON.stringify(target)}\n`);
    t.throws(() => parseConfigText(yaml, 'gateway.yaml', {}), { name: 'ConfigError' }, `post_logout_redirect ${target} is a configuration error`);
  }
});
