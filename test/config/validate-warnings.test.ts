/** Warnings: returned with the config, never thrown. */
import t from 'tap';
import { load, summary, variant, type RawConfig } from './fixtures/config.js';

const warnings = (change: (c: RawConfig) => void) => summary(load(variant(change)).warnings);

t.test('a single session secret (not a rotation list) is a normal setup, not a warning (issue 15, item 3)', async (t) => {
  t.same(
    warnings((c) => (c.session.secret = 'Yq8vN2kXw5Rt9bLm3Hc7Fz1Pd6Gs0Ja4')),
    [],
  );
});

t.test('scopes lack email while allow.email_domains is set', async (t) => {
  t.same(
    warnings((c) => {
      c.realms.agent.provider.scopes = ['openid', 'profile'];
      c.realms.agent.allow = { email_domains: ['example.com'] };
    }),
    ['warning realms.agent.provider.scopes: lack "email" while allow.email_domains is set: the provider may not send the email claim'],
  );
});

t.test("callback_path outside the realm's own paths", async (t) => {
  t.same(
    warnings((c) => (c.realms.agent.callback_path = '/oidc/agent')),
    [
      "warning realms.agent.callback_path: is not under any of this realm's paths (/agent), so the sign-in response is handled outside the realm's own URL space",
    ],
  );
  t.same(
    warnings((c) => (c.realms.agent.callback_path = '/agents/cb')),
    [
      "warning realms.agent.callback_path: is not under any of this realm's paths (/agent), so the sign-in response is handled outside the realm's own URL space",
    ],
    '/agents is not under /agent',
  );
});

t.test('https public_url with no listen.tls and no trusted_proxies', async (t) => {
  t.same(
    warnings((c) => (c.trusted_proxies = [])),
    ['warning public_url: behind a TLS terminator? set trusted_proxies to its address so X-Forwarded-Proto is believed'],
  );
  t.same(
    warnings((c) => {
      c.trusted_proxies = [];
      c.listen = { tls: { cert: '/c', key: '/k' } };
    }),
    [],
    'not with listen.tls',
  );
  t.same(
    warnings((c) => {
      c.trusted_proxies = [];
      c.public_url = 'http://localhost:8080';
    }),
    [],
    'not on loopback http',
  );
});

t.test('keys that are set but unused, and other likely mistakes', async (t) => {
  t.same(
    warnings((c) => (c.session.redis_url = 'redis://cache:6379')),
    [],
    'redis_url with store: cookie shares revocations between instances (docs/sessions.md)',
  );
  t.same(
    warnings((c) => (c.realms.agent.provider.private_key_file = '/k.pem')),
    ['warning realms.agent.provider.private_key_file: is not used when client_auth is client_secret_basic'],
  );
  t.same(
    warnings((c) => {
      c.realms.agent.provider.client_auth = 'private_key_jwt';
      c.realms.agent.provider.private_key_file = '/k.pem';
    }),
    ['warning realms.agent.provider.client_secret: is not used when client_auth is private_key_jwt'],
  );
  t.same(
    warnings((c) => (c.session = { ...c.session, lifetime: '1h', idle_timeout: '2h' })),
    ['warning session.idle_timeout: is longer than lifetime (1h), so it never applies'],
  );
  t.same(
    warnings((c) => (c.trusted_proxies = ['0.0.0.0/0'])),
    ['warning trusted_proxies[0]: trusts every client to set X-Forwarded-*; list only your proxies'],
  );
});

t.test('sessions that are never re-authorized at the provider', async (t) => {
  t.same(
    warnings((c) => (c.session.refresh = false)),
    [
      'warning session.refresh: is false: sessions are never re-authorized at the provider, so a person removed or disabled there keeps access until lifetime (12h) ends; shorten lifetime or use back-channel logout',
    ],
  );
  t.same(
    warnings((c) => {
      c.session.lifetime = '3h';
      c.session.reauthorize_every = '4h';
    }),
    ['warning session.reauthorize_every: is not shorter than lifetime (3h), so it never applies'],
  );
  t.same(
    warnings((c) => (c.session.reauthorize_every = '5m')),
    [],
    'a shorter interval is fine',
  );
});
