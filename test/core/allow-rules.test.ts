// A person the provider signs in but the realm's allow rules refuse gets 403 and
// nothing is forwarded: at the callback (no session is started) and on the
// request path, when a reload tightens the rules under an existing session.
import t from 'tap';
import { fetchWithJar } from '../helpers/browserless.js';
import { parseConfigText } from '../../src/config/load.js';
import { demoYaml } from '../../src/demo/stack.js';
import { BOB, CAROL, setCookies, startTestStack } from '../helpers/stack.js';

t.test('allow rules refuse with 403 and forward nothing', async (t) => {
  // agent: groups [helpdesk-agents] (the demo config); user: example.com addresses only
  const withDomains = (yaml: string) =>
    yaml.replace('    button_text: Sign in with Demo SSO\n', '    button_text: Sign in with Demo SSO\n    allow:\n      email_domains: [example.com]\n');
  const stack = await startTestStack({ editYaml: withDomains });
  t.teardown(() => stack.close());

  t.test('bob (customers) at /agent: GH_ALLOW_CLAIM at the callback', async (t) => {
    const flow = await stack.signIn('/agent/tickets', BOB);
    t.equal(flow.final.status, 403);
    t.match(flow.final.url, `${stack.publicUrl}/agent/login/authenticate-callback/1?`, 'stops at the callback');
    t.match(flow.final.body, '<code>GH_ALLOW_CLAIM</code>');
    t.notOk(flow.jar.get(`${stack.publicUrl}/agent`, stack.cookieName('agent')), 'no session');
    t.notOk(setCookies(flow.final.headers).some((l) => l.startsWith(`${stack.cookieName('agent')}=g1.`)));
    t.equal(stack.upstream.requests.length, 0, 'nothing forwarded');
  });

  t.test('carol (example.org) at /: GH_ALLOW_EMAIL_DOMAIN at the callback', async (t) => {
    const flow = await stack.signIn('/', CAROL);
    t.equal(flow.final.status, 403);
    t.match(flow.final.body, '<code>GH_ALLOW_EMAIL_DOMAIN</code>');
    t.notOk(flow.jar.get(`${stack.publicUrl}/`, stack.cookieName('user')), 'no session');
    t.equal(stack.upstream.requests.length, 0, 'nothing forwarded');
  });

  t.test('a reload that tightens the rules refuses an existing session', async (t) => {
    const { jar, final } = await stack.signIn('/', BOB);
    t.equal(final.status, 200, 'bob is a user');
    const before = stack.upstream.requests.length;
    const yaml = demoYaml(stack.publicUrl, stack.provider.issuer, stack.upstreamUrl).replace(
      '    button_text: Sign in with Demo SSO\n',
      '    button_text: Sign in with Demo SSO\n    allow:\n      claims:\n        groups: [vip-customers]\n',
    );
    const secret = stack.config.session.secret;
    const { config } = parseConfigText(yaml, '(reloaded)', { GATEHOUSE_DEMO_SECRET: Array.isArray(secret) ? secret[0] : secret });
    await stack.gateway.reload(config);
    const api = await fetchWithJar(`${stack.publicUrl}/tickets`, { jar, headers: { accept: 'application/json' } });
    t.equal(api.status, 403);
    t.equal(JSON.parse(api.body).error, 'GH_ALLOW_CLAIM');
    const page = await fetchWithJar(`${stack.publicUrl}/tickets`, { jar, headers: { accept: 'text/html' } });
    t.equal(page.status, 403);
    t.match(page.body, '<code>GH_ALLOW_CLAIM</code>');
    t.equal(stack.upstream.requests.length, before, 'nothing forwarded');
    t.ok(
      stack.logs.lines.some((l) => l.audit === 'refusal' && l.reason === 'GH_ALLOW_CLAIM' && l.sub === 'user-bob'),
      'the refusal is audited',
    );
  });
});
