// Realm confusion: the session cookie of one realm is presented on another
// realm's paths — renamed to the other realm's cookie name, or as it is on a path
// that only looks like the first realm (/Agent, /%61gent, /x/../agent) — after it
// has been used (so it sits in the session cache) and before. A user-realm session
// must never become an agent one. Gatehouse must treat the foreign cookie as
// signed out (401 for a script) and forward nothing.
import t from 'tap';
import { startHostileStack, signInVia, fetchAsScript, type HostileStack } from '../helpers/hostile-provider.js';
import { CookieJar } from '../helpers/browserless.js';

function renamed(stack: HostileStack, jar: CookieJar, from: string, to: string): CookieJar {
  const out = new CookieJar();
  for (const c of jar.all(stack.publicUrl)) if (c.name.startsWith(from)) out.setCookie(stack.publicUrl, `${to}${c.name.slice(from.length)}=${c.value}; Path=/`);
  return out;
}

t.test('a session of one realm is nobody on the other', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const user = await signInVia(stack, '/tickets');
  const agent = await signInVia(stack, '/agent/');
  t.equal(user.callback.status, 302);
  t.equal(agent.callback.status, 302);
  // used once each where they belong: both now sit in the session cache
  t.equal((await fetchAsScript(stack, '/tickets', user.jar)).status, 200);
  t.equal((await fetchAsScript(stack, '/agent/', agent.jar)).status, 200);
  const forwarded = stack.upstream.requests.length;

  const userAsAgent = renamed(stack, user.jar, 'gatehouse-user', 'gatehouse-agent');
  const agentAsUser = renamed(stack, agent.jar, 'gatehouse-agent', 'gatehouse-user');
  t.equal((await fetchAsScript(stack, '/agent/', userAsAgent)).status, 401, 'user session renamed to the agent cookie');
  t.equal((await fetchAsScript(stack, '/tickets', agentAsUser)).status, 401, 'agent session renamed to the user cookie');
  t.equal((await fetchAsScript(stack, '/agent/', user.jar)).status, 401, 'user session as it is, on agent paths');
  t.equal((await fetchAsScript(stack, '/tickets', agent.jar)).status, 401, 'agent session as it is, on user paths');
  for (const path of ['/Agent/', '/AGENT/x', '/%61gent/', '/%61%67%65%6e%74/x', '/x/../agent/', '/./agent', '//agent/', '/tickets/%2e%2e/agent/']) {
    t.equal((await fetchAsScript(stack, path, user.jar)).status, 401, `user session on ${path}`);
  }
  t.equal(stack.upstream.requests.length, forwarded, 'nothing was forwarded');

  // the agent session on an agent path spelled differently works, and the helpdesk sees the normalized path
  const spelled = await fetchAsScript(stack, '/x/../%61gent/tickets', agent.jar);
  t.equal(spelled.status, 200);
  t.equal(stack.upstream.requests.at(-1)!.url, '/agent/tickets');
  t.equal(stack.upstream.requests.at(-1)!.headers['x-auth-realm'], 'agent');
});

t.test('a session cookie is not a login attempt, nor the other way round', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const { beginSignIn, authorizeAt, arriveAtCallback, errorCode } = await import('../helpers/hostile-provider.js');
  const agent = await signInVia(stack, '/agent/');
  const session = agent.jar.all(stack.publicUrl).find((c) => c.name === 'gatehouse-agent')!.value;
  const { jar, authorizeUrl } = await beginSignIn(stack);
  const attempt = jar.all(stack.publicUrl).find((c) => c.name.startsWith('gatehouse-login-'))!;
  // the session value put where the attempt cookie was
  jar.setCookie(stack.publicUrl, `${attempt.name}=${session}; Path=/`);
  const answer = await arriveAtCallback(await authorizeAt(authorizeUrl), jar);
  t.equal(errorCode(answer), 'GH_STATE_MISMATCH', 'a session value opens no login attempt');
  // the attempt value put where a session cookie goes
  const fake = new CookieJar();
  fake.setCookie(stack.publicUrl, `gatehouse-agent=${attempt.value}; Path=/`);
  t.equal((await fetchAsScript(stack, '/agent/', fake)).status, 401, 'a login attempt value opens no session');
});
