// public_paths are forwarded without sign-in and anonymously: no identity
// headers even when the person is signed in. Globs: * within a segment, ** across.
// A path only looks public after normalization: /assets/../agent is /agent.
import t from 'tap';
import { fetchWithJar } from '../helpers/browserless.js';
import { ALICE, BOB, rawRequest, startTestStack } from '../helpers/stack.js';

t.test('public paths are forwarded anonymously', async (t) => {
  const stack = await startTestStack({
    editYaml: (yaml) => yaml.replace('  - /favicon.ico\n', '  - /favicon.ico\n  - /assets/**\n  - /status/*.json\n  - /agent/static/**\n'),
  });
  t.teardown(() => stack.close());
  const json: [string, string] = ['Accept', 'application/json'];

  for (const path of ['/favicon.ico', '/assets/app.css', '/assets/img/logo.svg?v=3', '/status/health.json']) {
    const before = stack.upstream.requests.length;
    const res = await rawRequest(stack.publicUrl, 'GET', path, [json]);
    t.equal(res.status, 200, `${path}: forwarded without sign-in`);
    t.equal(stack.upstream.requests.length, before + 1);
    const seen = stack.upstream.requests.at(-1)!;
    t.equal(seen.url, path);
    t.same(
      Object.keys(seen.headers).filter((n) => n.startsWith('x-auth-')),
      [],
      `${path}: no identity headers`,
    );
  }
  for (const path of ['/status/a/b.json', '/assetsx/app.css', '/assets/../agent/x', '/favicon.ico.php']) {
    const res = await rawRequest(stack.publicUrl, 'GET', path, [json]);
    t.equal(res.status, 401, `${path}: not public, sign-in required`);
  }

  // signed in, in the realm that owns the public path: still anonymous
  for (const [account, realmPath, asset] of [
    [BOB, '/', '/assets/app.css'],
    [ALICE, '/agent/', '/agent/static/app.js'],
  ] as const) {
    const { jar } = await stack.signIn(realmPath, account);
    t.equal(stack.upstream.requests.at(-1)!.headers['x-auth-subject'], `user-${account.username}`, `${account.username} is signed in`);
    const res = await fetchWithJar(`${stack.publicUrl}${asset}`, { jar, headers: { accept: '*/*' } });
    t.equal(res.status, 200);
    const seen = stack.upstream.requests.at(-1)!;
    t.equal(seen.url, asset);
    t.same(
      Object.keys(seen.headers).filter((n) => n.startsWith('x-auth-')),
      [],
      `${account.username} at ${asset}: no identity on a public path`,
    );
  }
});
