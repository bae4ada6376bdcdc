/**
 * One failing case per cross-field / semantic check (validate.ts and the
 * schema patterns it relies on). Each case changes a valid, warning-free
 * config in one way and expects exactly that problem.
 */
import t from 'tap';
import { errorsOf, problemsOf, summary, variant, type RawConfig } from './fixtures/config.js';
import { MAKE_A_SECRET } from '../../src/config/validate.js';

type Change = (c: RawConfig) => void;
const cases: [string, Change, string][] = [
  [
    'public_url must be https unless loopback',
    (c) => (c.public_url = 'http://helpdesk.example.com'),
    'public_url: must be https:// unless the host is loopback (got "http://helpdesk.example.com")',
  ],
  [
    'public_url must be a URL',
    (c) => (c.public_url = 'helpdesk.example.com'),
    'public_url: must be an absolute http(s) URL like https://helpdesk.example.com (got "helpdesk.example.com")',
  ],
  [
    'public_url has no path',
    (c) => (c.public_url = 'https://h.example.com/desk'),
    'public_url: must be an origin without path, query or fragment (got "https://h.example.com/desk"; try "https://h.example.com")',
  ],
  [
    'public_url has no query',
    (c) => (c.public_url = 'https://h.example.com/?a=1'),
    'public_url: must be an origin without path, query or fragment (got "https://h.example.com/?a=1"; try "https://h.example.com")',
  ],
  ['public_url has no credentials', (c) => (c.public_url = 'https://u:p@h.example.com'), 'public_url: must not contain a user name or password'],
  [
    'issuer must be https unless loopback',
    (c) => (c.realms.user.provider.issuer = 'http://idp.example.com'),
    'realms.user.provider.issuer: must be https:// unless the host is loopback (got "http://idp.example.com")',
  ],
  [
    'issuer has no query',
    (c) => (c.realms.user.provider.issuer = 'https://idp.example.com/?tenant=1'),
    'realms.user.provider.issuer: must not have a query or fragment (got "https://idp.example.com/?tenant=1")',
  ],
  ['issuer must be a URL', (c) => (c.realms.user.provider.issuer = 'idp'), 'realms.user.provider.issuer: must be an https:// URL (got "idp")'],
  [
    'metrics.listen.port differs from listen.port',
    (c) => (c.metrics = { listen: { port: 8080 } }),
    'metrics.listen.port: must differ from listen.port (got 8080): metrics get a listener of their own',
  ],
  [
    'upstream.url must be http(s)',
    (c) => (c.upstream.url = 'ftp://deskpro.internal'),
    'upstream.url: must be an http:// or https:// URL (got "ftp://deskpro.internal")',
  ],
  [
    'realm paths start with /',
    (c) => (c.realms.agent.paths = ['agent']),
    'realms.agent.paths[0]: must be a path starting with "/" (no "//", spaces, "?" or "#") (got "agent")',
  ],
  [
    'callback_path starts with /',
    (c) => (c.realms.agent.callback_path = 'agent/cb'),
    'realms.agent.callback_path: must be a path starting with "/" (no "//", spaces, "?" or "#") (got "agent/cb")',
  ],
  [
    'logout_path starts with /',
    (c) => (c.realms.agent.logout_path = 'https://x/logout'),
    'realms.agent.logout_path: must be a path starting with "/" (no "//", spaces, "?" or "#") (got "https://x/logout")',
  ],
  [
    'public_paths start with /',
    (c) => (c.public_paths = ['/ok', 'assets/**']),
    'public_paths[1]: must be a path starting with "/" (no "//", spaces, "?" or "#") (got "assets/**")',
  ],
  [
    'callback_path unique across realms',
    (c) => (c.realms.user.callback_path = '/agent/login/callback'),
    'realms.user.callback_path: "/agent/login/callback" is already realm agent\'s callback_path',
  ],
  [
    'callback_path differs from logout paths',
    (c) => (c.realms.user.callback_path = '/agent/logout'),
    'realms.user.callback_path: "/agent/logout" is already realm agent\'s logout_path',
  ],
  [
    'logout_path unique across realms',
    (c) => (c.realms.user.logout_path = '/agent/logout'),
    'realms.user.logout_path: "/agent/logout" is already realm agent\'s logout_path',
  ],
  [
    'a derived logout path collides',
    (c) => {
      c.realms.user.paths = ['/help'];
      c.realms.agent.callback_path = '/help/logout';
    },
    "realms.user.logout_path: the default logout path /help/logout is already realm agent's callback_path; set logout_path",
  ],
  [
    'callback_path not under /.gatehouse/',
    (c) => (c.realms.agent.callback_path = '/.gatehouse/cb'),
    'realms.agent.callback_path: "/.gatehouse/cb" is under /.gatehouse/, which is reserved for the gateway',
  ],
  [
    'logout_path not under /.gatehouse/',
    (c) => (c.realms.agent.logout_path = '/.gatehouse/logout'),
    'realms.agent.logout_path: "/.gatehouse/logout" is under /.gatehouse/, which is reserved for the gateway',
  ],
  [
    'realm paths not under /.gatehouse/',
    (c) => c.realms.agent.paths.push('/.gatehouse'),
    'realms.agent.paths[1]: is under /.gatehouse/, which is reserved for the gateway',
  ],
  ['paths unique across realms', (c) => (c.realms.user.paths = ['/', '/agent/']), 'realms.user.paths[1]: is already a path of realm agent'],
  [
    'session.secret at least 32 characters',
    (c) => (c.session.secret = 'x'.repeat(31)),
    `session.secret: must be at least 32 characters (got 31); ${MAKE_A_SECRET}`,
  ],
  [
    'each session.secret at least 32 characters',
    (c) => c.session.secret.push('short'),
    `session.secret[1]: must be at least 32 characters (got 5); ${MAKE_A_SECRET}`,
  ],
  // issue 15, item 5: long enough, obviously not random
  [
    'session.secret of one repeated character',
    (c) => (c.session.secret = 'a'.repeat(44)),
    `session.secret: does not look random: it has only 1 different character; ${MAKE_A_SECRET}`,
  ],
  [
    'session.secret that repeats a word',
    (c) => (c.session.secret = 'changeme-changeme-changeme-changeme'),
    `session.secret: does not look random: most of it repeats itself; ${MAKE_A_SECRET}`,
  ],
  [
    'session.secret in a list, of few characters',
    (c) => c.session.secret.push('abababababababababababababababbbaaab'),
    `session.secret[1]: does not look random: it has only 2 different characters; ${MAKE_A_SECRET}`,
  ],
  // issue 15, item 2: the provider compares redirect URIs character for character
  [
    'callback_path without a trailing slash',
    (c) => (c.realms.agent.callback_path = '/agent/login/callback/'),
    'realms.agent.callback_path: must not end with "/": the provider compares the registered redirect URI character for character (got "/agent/login/callback/"; try "/agent/login/callback")',
  ],
  // issue 11, finding 5: email_verified vouches for "email" only
  [
    'email_domains checked on another email claim',
    (c) => {
      c.realms.agent.allow = { email_domains: ['example.com'] };
      c.realms.agent.claims = { email: 'preferred_username' };
    },
    'realms.agent.claims.email: is "preferred_username" while allow.email_domains is set, but email_verified vouches only for the "email" claim, so the domain would be checked on a value nobody verified. Write claims.email: email, or restrict with allow.claims instead, or, if the provider itself controls this claim (for example Entra ID\'s user principal name), say so with allow.allow_unverified_email: true',
  ],
  ['session.secret list not empty', (c) => (c.session.secret = []), 'session.secret: must list at least one entry'],
  [
    'store redis requires redis_url',
    (c) => (c.session.store = 'redis'),
    'session.redis_url: required when store is redis: set one of session.redis_url (one server), session.redis_sentinels with session.redis_sentinel_master (Sentinel), or session.redis_cluster (Cluster)',
  ],
  [
    'redis_url is redis:// or rediss://',
    (c) => {
      c.session.store = 'redis';
      c.session.redis_url = 'http://:pw@cache:6379';
    },
    'session.redis_url: must be a redis:// or rediss:// URL (got "http://:***@cache:6379")',
  ],
  [
    'client_secret_basic needs client_secret',
    (c) => delete c.realms.agent.provider.client_secret,
    'realms.agent.provider.client_secret: required when client_auth is client_secret_basic',
  ],
  [
    'client_secret_post needs client_secret',
    (c) => {
      c.realms.agent.provider.client_auth = 'client_secret_post';
      delete c.realms.agent.provider.client_secret;
    },
    'realms.agent.provider.client_secret: required when client_auth is client_secret_post',
  ],
  [
    'private_key_jwt needs private_key_file',
    (c) => {
      c.realms.agent.provider.client_auth = 'private_key_jwt';
      delete c.realms.agent.provider.client_secret;
    },
    'realms.agent.provider.private_key_file: required when client_auth is private_key_jwt',
  ],
  ['HS256 needs signing.secret', (c) => (c.identity = { signing: { alg: 'HS256' } }), 'identity.signing.secret: required when alg is HS256'],
  [
    'HS256 secret at least 32 characters',
    (c) => (c.identity = { signing: { alg: 'HS256', secret: 'x'.repeat(20) } }),
    'identity.signing.secret: must be at least 32 characters (got 20)',
  ],
  [
    'HS256 forbids key_file',
    (c) => (c.identity = { signing: { alg: 'HS256', secret: 'x'.repeat(40), key_file: '/k.pem' } }),
    'identity.signing.key_file: must not be set when alg is HS256 (HS256 uses secret)',
  ],
  [
    'other algs forbid secret',
    (c) => (c.identity = { signing: { alg: 'EdDSA', secret: 'x'.repeat(40) } }),
    'identity.signing.secret: must not be set when alg is EdDSA (it uses key_file; secret is for HS256 only)',
  ],
  [
    'default alg forbids secret',
    (c) => (c.identity = { signing: { secret: 'x'.repeat(40) } }),
    'identity.signing.secret: must not be set when alg is ES256 (it uses key_file; secret is for HS256 only)',
  ],
  [
    'post_logout_redirect not protocol-relative',
    (c) => (c.realms.agent.post_logout_redirect = '//evil.example'),
    'realms.agent.post_logout_redirect: must be a path starting with "/" (not "//") or a URL whose origin is public_url\'s or listed in allowed_redirects (got "//evil.example")',
  ],
  [
    'post_logout_redirect not backslash-relative',
    (c) => (c.realms.agent.post_logout_redirect = '/\\evil.example'),
    'realms.agent.post_logout_redirect: must be a path starting with "/" (not "//") or a URL whose origin is public_url\'s or listed in allowed_redirects (got "/\\\\evil.example")',
  ],
  [
    'post_logout_redirect on a foreign origin',
    (c) => (c.realms.agent.post_logout_redirect = 'https://evil.example/bye'),
    'realms.agent.post_logout_redirect: must be a path starting with "/" (not "//") or a URL whose origin is public_url\'s or listed in allowed_redirects (got "https://evil.example/bye")',
  ],
  [
    'post_logout_redirect relative without slash',
    (c) => (c.realms.agent.post_logout_redirect = 'agent'),
    'realms.agent.post_logout_redirect: must be a path starting with "/" (not "//") or a URL whose origin is public_url\'s or listed in allowed_redirects (got "agent")',
  ],
  [
    'allowed_redirects are bare origins',
    (c) => (c.allowed_redirects = ['https://www.example.com/path']),
    'allowed_redirects[0]: must be a bare origin, scheme://host[:port] (got "https://www.example.com/path"; try "https://www.example.com")',
  ],
  [
    'allowed_redirects are URLs',
    (c) => (c.allowed_redirects = ['www.example.com']),
    'allowed_redirects[0]: must be an origin like https://app.example.com (got "www.example.com")',
  ],
  [
    'cors origins are bare origins',
    (c) => (c.cors = { allowed_origins: ['https://app.example.com/'] }),
    'cors.allowed_origins[0]: must be a bare origin, scheme://host[:port] (got "https://app.example.com/"; try "https://app.example.com")',
  ],
  [
    'cors origins are not *',
    (c) => (c.cors = { allowed_origins: ['*'] }),
    'cors.allowed_origins[0]: must name an origin; "*" cannot be used with credentialed requests',
  ],
  [
    'trusted_proxies are IPs or CIDRs',
    (c) => (c.trusted_proxies = ['10.0.0.1', 'proxy.internal']),
    'trusted_proxies[1]: must be an IP address or CIDR like 10.0.0.0/8 (got "proxy.internal")',
  ],
  [
    'trusted_proxies prefix length in range',
    (c) => (c.trusted_proxies = ['fd00::/129']),
    'trusted_proxies[0]: must have a prefix length between 0 and 128 (got "fd00::/129")',
  ],
  [
    'trusted_proxies not a bad IPv4',
    (c) => (c.trusted_proxies = ['10.0.0.256']),
    'trusted_proxies[0]: must be an IP address or CIDR like 10.0.0.0/8 (got "10.0.0.256")',
  ],
  [
    'realm names are lowercase words',
    (c) => (c.realms.Agents = c.realms.agent),
    'realms.Agents: must be a realm name: a lowercase letter, then up to 31 lowercase letters, digits, "_" or "-" (got "Agents")',
  ],
  [
    'realm names at most 32 characters',
    (c) => (c.realms['a'.repeat(33)] = c.realms.agent),
    `realms.${'a'.repeat(33)}: must be a realm name: a lowercase letter, then up to 31 lowercase letters, digits, "_" or "-" (got "${'a'.repeat(33)}")`,
  ],
  [
    'header_prefix is a header prefix ending in -',
    (c) => (c.identity = { header_prefix: 'X_Auth_' }),
    'identity.header_prefix: must be a header name prefix ending in "-", like X-Auth- (got "X_Auth_")',
  ],
  ['at least one realm', (c) => (c.realms = {}), 'realms: must have at least 1 entry'],
  ['page colors are hex', (c) => (c.pages = { accent_color: 'blue' }), 'pages.accent_color: must be a hex color like #2f6fde (got "blue")'],
  ['admin.token at least 32 characters', (c) => (c.admin = { token: 'short-token' }), 'admin.token: must be at least 32 characters (got 11)'],
  [
    'logo_url is a path or http(s) URL',
    (c) => (c.pages = { logo_url: 'javascript:alert(1)' }),
    'pages.logo_url: must be a path starting with "/" or an http(s) URL (got "javascript:alert(1)")',
  ],
  [
    'extra_auth_params cannot override protocol parameters',
    (c) => (c.realms.agent.provider.extra_auth_params = { redirect_uri: 'https://evil' }),
    'realms.agent.provider.extra_auth_params.redirect_uri: is set by the gateway itself and cannot be overridden',
  ],
];

for (const [name, change, expected] of cases) {
  t.test(name, async (t) => {
    t.same(summary(errorsOf(variant(change))), [expected]);
  });
}

t.test('the base config of these cases is valid and warning-free', async (t) => {
  t.same(problemsOf(variant(() => {})), []);
});
