// Issue 15, items 3 and 7: the README's own two-realm example (step 4), pointed
// at a real provider and a real helpdesk, passes `gatehouse check` with no
// warning at all, and check prints the four lists the helpdesk's setup guide
// asks for (callback URLs, logout URLs, web origins, Allowed Origins (CORS)).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDemoProvider } from '../../src/demo/provider.js';
import { generateSigningKeyPem } from '../../src/identity/assertion.js';
import type { CheckReport } from '../../src/check/check.js';
import { startUpstream } from '../helpers/upstream.js';
import { ROOT, runCli, tempDir, writeFile } from '../helpers/ops.js';

/** the yaml block of README step 4, as an operator copies it */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const step = readme.slice(readme.indexOf('### 4. Write `gateway.yaml`'));
  const block = /```yaml\n([\s\S]*?)```/.exec(step);
  if (!block) throw new Error('README step 4 has no yaml block');
  return block[1]!;
}

t.test("the README's example: check exits 0 with no warnings, and lists all four of the guide's lists", async (t) => {
  const provider = await startDemoProvider({ port: 0, clients: [] });
  t.teardown(() => provider.close());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const dir = tempDir(t);
  const keyFile = writeFile(dir, 'signing.pem', await generateSigningKeyPem('ES256'));
  const example = readmeExample();
  t.match(example, 'https://login.example.com/', 'the example names the issuer this test replaces');
  const yaml = example
    .replaceAll('https://login.example.com/', provider.issuer)
    .replace('/etc/gatehouse/signing.pem', keyFile)
    .replace('http://deskpro.internal:80', upstream.url);
  const file = writeFile(dir, 'gateway.yaml', yaml);
  const env = {
    GATEHOUSE_SESSION_SECRET: randomBytes(32).toString('base64'),
    AGENT_CLIENT_ID: 'agent-app',
    AGENT_CLIENT_SECRET: 'agent-app-secret',
    USER_CLIENT_ID: 'user-app',
    USER_CLIENT_SECRET: 'user-app-secret',
  };

  const json = await runCli(['check', '--config', file, '--json'], { env });
  t.equal(json.code, 0, json.stdout);
  const report = JSON.parse(json.stdout) as CheckReport;
  t.same(report.warnings, [], 'no warning on the documented setup');
  t.same(report.problems, []);
  t.ok(
    report.notes.some((n) => n.key === 'session.secret'),
    'the single secret is mentioned as a note',
  );

  const text = await runCli(['check', '--config', file], { env });
  t.equal(text.code, 0);
  t.match(text.stdout, `${file}: ok — 0 problems, 0 warnings`);
  t.notMatch(text.stdout, /^warnings:/m);
  for (const realm of ['agent', 'user']) {
    const section = text.stdout
      .slice(text.stdout.indexOf(`for realm ${realm} `))
      .split('\n')
      .slice(0, 9)
      .join('\n');
    t.match(section, /Allowed callback \/ redirect URI: +https:\/\/helpdesk\.example\.com\/.*login\/authenticate-callback\/\d\n/, `${realm}: callback URLs`);
    t.match(section, /Allowed logout \/ post-logout URI: +https:\/\/helpdesk\.example\.com\//, `${realm}: logout URLs`);
    t.match(section, /Allowed web origin: +https:\/\/helpdesk\.example\.com\n/, `${realm}: web origins`);
    t.match(section, /Allowed origin \(CORS\): +https:\/\/helpdesk\.example\.com\n/, `${realm}: Allowed Origins (CORS)`);
  }
});
