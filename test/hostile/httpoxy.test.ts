// httpoxy (CVE-2016-5385 and siblings): a `Proxy:` request header reaches a
// CGI/FastCGI helpdesk as the HTTP_PROXY variable, which many HTTP client
// libraries read as the proxy for their own outgoing calls — so a client could
// route the helpdesk's calls to the provider, mail API, … through its own host.
// No request header named Proxy (any case, any spelling a CGI gateway maps to
// HTTP_PROXY) is forwarded, on public paths or signed in.
import t from 'tap';
import { ALICE, rawRequest, startTestStack } from '../helpers/stack.js';

t.test('the Proxy request header never reaches the helpdesk', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const cookie = jar.cookieHeader(`${stack.publicUrl}/agent`)!;

  const publicAnswer = await rawRequest(stack.publicUrl, 'GET', '/favicon.ico', [
    ['Proxy', 'http://203.0.113.5:3128'],
    ['proxy', 'http://203.0.113.6:3128'],
  ]);
  t.equal(publicAnswer.status, 200);
  const signedIn = await rawRequest(stack.publicUrl, 'GET', '/agent/api/x', [
    ['Accept', 'application/json'],
    ['Cookie', cookie],
    ['PROXY', 'http://203.0.113.7:3128'],
  ]);
  t.equal(signedIn.status, 200);
  for (const seen of stack.upstream.requests.slice(-2)) {
    t.notOk(
      seen.rawHeaders.some((v) => /203\.0\.113/.test(v)),
      `${seen.url}: no Proxy value reached the helpdesk`,
    );
    t.equal(seen.headers.proxy, undefined);
  }
});
