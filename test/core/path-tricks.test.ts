// The realm is chosen from the normalized path, case-insensitively, so spelling
// /agent another way never reaches the agent area under the user realm's rules.
// Paths the helpdesk could decode differently from the gateway (encoded slash,
// backslash, NUL) are refused with 400 and never forwarded.
import t from 'tap';
import { ALICE, rawRequest, startTestStack } from '../helpers/stack.js';

t.test('path spellings of /agent land in the agent realm; ambiguous paths are refused', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const agentCookie = jar.cookieHeader(`${stack.publicUrl}/agent`)!;
  const json: [string, string] = ['Accept', 'application/json'];

  const tricks: Array<[string, string]> = [
    ['/AGENT', '/AGENT'],
    ['/Agent/tickets', '/Agent/tickets'],
    ['/x/../agent', '/agent'],
    ['/%61gent', '/agent'],
    ['/%61%67%65%6E%74/tickets', '/agent/tickets'],
    ['//agent', '/agent'],
    ['/./agent/', '/agent/'],
    ['/agent/./tickets/../x?q=1', '/agent/x?q=1'],
  ];
  for (const [path, normalized] of tricks) {
    const anonymous = await rawRequest(stack.publicUrl, 'GET', path, [json]);
    t.equal(anonymous.status, 401, `${path}: signed out → 401`);
    t.equal(JSON.parse(anonymous.body).realm, 'agent', `${path}: judged by the agent realm`);
    const before = stack.upstream.requests.length;
    const signedIn = await rawRequest(stack.publicUrl, 'GET', path, [json, ['Cookie', agentCookie]]);
    t.equal(signedIn.status, 200, `${path}: the agent session opens it`);
    t.equal(stack.upstream.requests.length, before + 1);
    const seen = stack.upstream.requests.at(-1)!;
    t.equal(seen.headers['x-auth-realm'], 'agent', `${path}: forwarded as the agent realm`);
    t.equal(seen.url, normalized, `${path}: the helpdesk gets the normalized path`);
  }

  const refused = [
    '/agent%2Fx',
    '/x%2F..%2Fagent',
    '/%2e%2e%2fagent',
    '/agent%5Cx',
    '/agent\\..\\x',
    '/x\\agent',
    '/agent/%00',
    '/agent%00.html',
    '/%zz/agent',
  ];
  const before = stack.upstream.requests.length;
  for (const path of refused) {
    for (const headers of [[json], [json, ['Cookie', agentCookie]]] as Array<Array<[string, string]>>) {
      const res = await rawRequest(stack.publicUrl, 'GET', path, headers);
      t.equal(res.status, 400, `${path}: 400`);
      t.equal(JSON.parse(res.body).error, 'GH_BAD_PATH', `${path}: GH_BAD_PATH`);
    }
  }
  t.equal(stack.upstream.requests.length, before, 'none of them was forwarded');
});
