/** What the checks must let through: loopback http, allowed redirects, IPv6, rotation lists. */
import t from 'tap';
import { problemsOf, summary, variant, type RawConfig } from './fixtures/config.js';

const accepted: [string, (c: RawConfig) => void][] = [
  ['http public_url on localhost', (c) => (c.public_url = 'http://localhost:8080')],
  ['http public_url on 127.0.0.0/8', (c) => (c.public_url = 'http://127.1.2.3:8080')],
  ['http public_url on ::1', (c) => (c.public_url = 'http://[::1]:8080/')],
  ['http issuer on loopback', (c) => (c.realms.agent.provider.issuer = 'http://127.0.0.1:9000/oidc')],
  ['https upstream', (c) => (c.upstream.url = 'https://deskpro.internal:8443/base')],
  ['post_logout_redirect as a path', (c) => (c.realms.agent.post_logout_redirect = '/agent?bye=1')],
  ['post_logout_redirect on public_url', (c) => (c.realms.agent.post_logout_redirect = 'https://helpdesk.example.com/bye')],
  [
    'post_logout_redirect on an allowed origin',
    (c) => {
      c.allowed_redirects = ['https://www.example.com'];
      c.realms.agent.post_logout_redirect = 'https://www.example.com/';
    },
  ],
  ['origins with ports', (c) => (c.cors = { allowed_origins: ['https://app.example.com:8443', 'http://localhost:3000'] })],
  ['IPv4 and IPv6 proxies and CIDRs', (c) => (c.trusted_proxies = ['10.0.0.1', '192.168.0.0/16', 'fd00::/8', '::1'])],
  ['a rotation list of secrets', (c) => c.session.secret.push('Kd93mXv0Qa7LpZ2wR5tN8bC1hF4jG6sY')],
  [
    'store redis with rediss://',
    (c) => {
      c.session.store = 'redis';
      c.session.redis_url = 'rediss://:pw@cache:6380/0';
    },
  ],
  ['HS256 with a secret', (c) => (c.identity = { signing: { alg: 'HS256', secret: 'z'.repeat(32) } })],
  ['RS256 with a key file', (c) => (c.identity = { signing: { alg: 'RS256', key_file: '/etc/gatehouse/rsa.pem' } })],
  [
    'private_key_jwt with a key file',
    (c) => {
      c.realms.agent.provider = { ...c.realms.agent.provider, client_auth: 'private_key_jwt', private_key_file: '/k.pem' };
      delete c.realms.agent.provider.client_secret;
    },
  ],
  [
    'logout paths set explicitly',
    (c) => {
      c.realms.agent.logout_path = '/agent/signout';
      c.realms.user.logout_path = '/signout';
    },
  ],
  [
    'realm names with digits, _ and -',
    (c) => {
      c.realms['agent_2-x'] = c.realms.agent;
      delete c.realms.agent;
    },
  ],
  ['an admin token', (c) => (c.admin = { token: 't'.repeat(32) })],
  ['a logo path and URL', (c) => (c.pages = { logo_url: '/assets/logo.svg' })],
  [
    'secrets made by openssl rand -hex 16 and -base64 32',
    (c) => (c.session.secret = ['3f9c1a7e5b20d84c6e1f0a9b7c3d5e28', 'q2Vx9LmT4rBn7KcP1sWz6HdY3fJg8aEu0oQi5NtRkM8=']),
  ],
  [
    'email_domains with another email claim the operator accepts unverified',
    (c) => {
      c.realms.agent.allow = { email_domains: ['example.com'], allow_unverified_email: true };
      c.realms.agent.claims = { email: 'preferred_username' };
    },
  ],
  ['another email claim without email_domains', (c) => (c.realms.agent.claims = { email: 'preferred_username' })],
  [
    'callback_path "/" is not a trailing slash',
    (c) => {
      c.realms.user.callback_path = '/';
      c.realms.user.paths = ['/'];
    },
  ],
];

for (const [name, change] of accepted) {
  t.test(name, async (t) => {
    t.same(summary(problemsOf(variant(change))), []);
  });
}
