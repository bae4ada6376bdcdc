// WebSockets through the gateway: with a session the upgrade reaches the helpdesk
// with the identity headers (the demo helpdesk greets "hello <sub>" and echoes);
// without a session it is refused with 401, and a handshake from a page of
// another origin (cross-site WebSocket hijacking) with 403, even with the cookie.
import t from 'tap';
import WebSocket from 'ws';
import { ALICE, startTestStack } from '../helpers/stack.js';

type Outcome = { opened: true; messages: string[] } | { opened: false; status: number; body: string };

function connect(url: string, headers: Record<string, string>, send?: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: 5000 });
    const messages: string[] = [];
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ opened: false, status: res.statusCode ?? 0, body }));
    });
    ws.on('message', (data) => {
      messages.push(data.toString());
      if (messages.length === 1 && send) ws.send(send);
      if (messages.length === (send ? 2 : 1)) ws.close();
    });
    ws.on('close', () => resolve({ opened: true, messages }));
    ws.on('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

t.test('websockets through the gateway', async (t) => {
  const stack = await startTestStack({ upstream: 'helpdesk' });
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/agent/', ALICE);
  const cookie = jar.cookieHeader(`${stack.publicUrl}/agent/ws`)!;
  const wsUrl = `${stack.publicUrl.replace('http:', 'ws:')}/agent/ws`;

  const ok = await connect(wsUrl, { cookie, origin: stack.publicUrl }, 'ping');
  t.same(ok, { opened: true, messages: ['hello user-alice', 'echo:ping'] }, 'the helpdesk saw the identity and echoes');

  const noOrigin = await connect(wsUrl, { cookie });
  t.same(noOrigin, { opened: true, messages: ['hello user-alice'] }, 'a non-browser client without Origin is fine');

  const anonymous = await connect(wsUrl, { origin: stack.publicUrl });
  t.equal(anonymous.opened, false);
  if (!anonymous.opened) {
    t.equal(anonymous.status, 401, 'without a session: 401');
    t.equal(JSON.parse(anonymous.body).error, 'GH_NOT_SIGNED_IN');
  }

  const foreign = await connect(wsUrl, { cookie, origin: 'https://evil.example' });
  t.equal(foreign.opened, false);
  if (!foreign.opened) {
    t.equal(foreign.status, 403, 'from a foreign Origin: 403');
    t.equal(JSON.parse(foreign.body).error, 'GH_CSRF');
  }

  const otherRealm = await connect(`${stack.publicUrl.replace('http:', 'ws:')}/ws`, { cookie, origin: stack.publicUrl });
  t.equal(otherRealm.opened, false);
  if (!otherRealm.opened) t.equal(otherRealm.status, 401, 'the agent session does not open a user-realm websocket');
});
