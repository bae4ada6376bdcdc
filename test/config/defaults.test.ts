import t from 'tap';
import { MINIMAL, SESSION_SECRET, CLIENT_SECRET, load, summary } from './fixtures/config.js';

t.test('the minimal file of the contract gets every default', async (t) => {
  const { config, warnings, file } = load(MINIMAL);
  t.equal(file, 'gateway.yaml');
  t.same(config, {
    public_url: 'https://helpdesk.example.com',
    workers: 'auto',
    listen: { host: '0.0.0.0', port: 8080, hsts_max_age: '0s' },
    trusted_proxies: [],
    upstream: { url: 'http://deskpro.internal:80', timeout: '30s', websockets: true, preserve_host: true, max_connections: 128 },
    session: { secret: SESSION_SECRET, store: 'cookie', lifetime: '12h', idle_timeout: '2h', refresh: true, reauthorize_every: '15m' },
    identity: { header_prefix: 'X-Auth-', signing: { alg: 'ES256' }, assertion_ttl: '60s' },
    public_paths: [],
    realms: {
      agent: {
        paths: ['/agent'],
        callback_path: '/agent/login/callback',
        login: 'automatic',
        button_text: 'Sign in',
        provider: {
          issuer: 'https://idp.example.com/',
          client_id: 'agent',
          client_secret: CLIENT_SECRET,
          client_auth: 'client_secret_basic',
          scopes: ['openid', 'profile', 'email'],
          extra_auth_params: {},
          userinfo: false,
        },
        allow: { email_domains: [], allow_unverified_email: false, claims: {} },
        claims: { email: 'email', name: 'name', groups: 'groups' },
      },
    },
    allowed_redirects: [],
    cors: { allowed_origins: [] },
    pages: { accent_color: '#2f6fde', background_color: '#f6f7f9', text_color: '#1d2330' },
    admin: {},
    limits: { max_header_bytes: 16384, max_url_bytes: 8192, header_timeout: '10s', body_timeout: '10s', body_min_rate: 500, failed_callbacks_per_minute: 30 },
    metrics: {},
    observe: {},
    log: { level: 'info', format: 'json', access: false },
  });
  t.notOk('logout_path' in config.realms.agent!, 'logout_path stays unset: the runtime derives <first path>/logout');
  t.notOk('tls' in config.listen, 'listen.tls stays unset');
  t.same(summary(warnings), ['warning public_url: behind a TLS terminator? set trusted_proxies to its address so X-Forwarded-Proto is believed']);
});

t.test('defaults are fresh copies, never shared between loads', async (t) => {
  const a = load(MINIMAL).config;
  a.realms.agent!.provider.scopes.push('offline_access');
  a.trusted_proxies.push('10.0.0.1');
  const b = load(MINIMAL).config;
  t.same(b.realms.agent!.provider.scopes, ['openid', 'profile', 'email']);
  t.same(b.trusted_proxies, []);
});

t.test('an empty key (null) counts as not written: the default applies', async (t) => {
  const { config } = load(`${MINIMAL}listen:\npublic_paths:\n`);
  t.same(config.listen, { host: '0.0.0.0', port: 8080, hsts_max_age: '0s' });
  t.same(config.public_paths, []);
});

t.test('written values replace defaults', async (t) => {
  const text = `${MINIMAL}listen:\n  port: 0\n  tls: {cert: /c.pem, key: /k.pem}\nlog: {level: debug, format: pretty}\nworkers: 4\n`;
  const { config, warnings } = load(text);
  t.same(config.listen, { host: '0.0.0.0', port: 0, hsts_max_age: '0s', tls: { cert: '/c.pem', key: '/k.pem' } });
  t.same(config.log, { level: 'debug', format: 'pretty', access: false });
  t.equal(config.workers, 4);
  t.equal(load(`${MINIMAL}workers: auto\n`).config.workers, 'auto', 'workers: auto is kept as the word (cli.ts counts the CPUs)');
  t.same(
    load(`${MINIMAL}metrics:\n  listen:\n    port: 9464\n`).config.metrics,
    { listen: { host: '127.0.0.1', port: 9464 } },
    'metrics.listen binds loopback unless told otherwise',
  );
  t.notOk(
    summary(warnings).some((w) => w.includes('TLS terminator')),
    'listen.tls set: no TLS-terminator warning',
  );
});
