// WebSockets through nginx in front, with auth_request on the handshake: the
// handshake is judged like any request (session, realm, the proxy mode's
// cross-site WebSocket hijacking rule), and the upstream's WebSocket sees the
// identity nginx was given.
import t from 'tap';
import { WebSocket } from 'ws';
import { signIn } from '../helpers/browserless.js';
import { ALICE } from '../helpers/stack.js';
import { startNginxFront, type NginxFront } from './nginx-front.js';

let front: NginxFront;
t.before(async () => {
  front = await startNginxFront();
});
t.teardown(() => front.close());

/** Open a WebSocket through nginx: its first message (the upstream's view of the handshake), or the refusal's status. */
function open(path: string, headers: Record<string, string>): Promise<{ first: string } | { status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${front.publicUrl.replace('http:', 'ws:')}${path}`, { headers });
    ws.once('message', (data) => {
      resolve({ first: data.toString() });
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    ws.once('error', (error) => reject(error));
  });
}

t.test('a signed-in WebSocket handshake goes through nginx with the identity; others are refused', async (t) => {
  const alice = await signIn(`${front.publicUrl}/agent/`, ALICE);
  t.equal(alice.final.status, 200);
  const cookie = alice.jar.cookieHeader(front.publicUrl)!;

  const opened = await open('/agent/live', { cookie, origin: front.publicUrl });
  t.ok('first' in opened, `the WebSocket opened (${JSON.stringify(opened)})`);
  if ('first' in opened) {
    const seen = JSON.parse(opened.first) as Record<string, string>;
    t.equal(seen['x-auth-subject'], 'user-alice', "the upstream's WebSocket saw her identity");
    t.equal(seen['x-auth-realm'], 'agent');
    t.ok(seen['x-auth-assertion'], 'and the assertion');
    t.equal(String(seen.upgrade).toLowerCase(), 'websocket', 'as an upgrade');
  }

  const before = front.upstream.requests.length;
  t.same(await open('/agent/live', { origin: front.publicUrl }), { status: 401 }, 'no session: 401, never a redirect');
  t.same(
    await open('/agent/live', { cookie, origin: 'https://evil.example' }),
    { status: 403 },
    'from a page of another origin: 403 (cross-site WebSocket hijacking)',
  );
  t.same(await open('/agent%2Flive', { cookie, origin: front.publicUrl }), { status: 403 }, 'a path Gatehouse will not judge: 403');
  t.same(
    front.upstream.requests.slice(before).map((r) => r.url),
    [],
    'none of those reached the upstream',
  );
});
