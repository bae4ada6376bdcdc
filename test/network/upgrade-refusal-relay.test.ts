// A helpdesk that refuses an upgrade (a real nginx answering 403 instead of 101)
// has its answer relayed to the client header by header: every name keeps its
// own value, whatever headers the gateway leaves out (hop-by-hop, framing).
// A list filtered by index would shift the pairs and turn a value — here one
// the client chose, echoed by nginx — into a header name of the answer.
import t from 'tap';
import { BOB, startTestStack } from '../helpers/stack.js';
import { rawRequest } from '../helpers/hostile-provider.js';
import { startNginxHelpdesk } from '../helpers/nginx-helpdesk.js';

function parse(answer: string): { status: number; headers: Array<[string, string]>; body: string } {
  const end = answer.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = answer.slice(0, end).split('\r\n');
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
  return { status: Number(statusLine.split(' ')[1]), headers, body: answer.slice(end + 4) };
}

t.test("a refused upgrade's answer keeps its name/value pairs", async (t) => {
  const nginx = await startNginxHelpdesk({
    extraLocations: `
    location = /refusing/socket {
      add_header X-Echo $arg_v always;
      add_header X-After after always;
      return 403 "refused by nginx\\n";
    }`,
  });
  t.teardown(() => nginx.close());
  const stack = await startTestStack({ upstreamUrl: nginx.url });
  t.teardown(() => stack.close());
  const cookie = (await stack.signIn('/', BOB)).jar.cookieHeader(`${stack.publicUrl}/`)!;
  const host = new URL(stack.publicUrl).host;

  const bytes =
    [
      'GET /refusing/socket?v=Set-Cookie HTTP/1.1',
      `Host: ${host}`,
      `Cookie: ${cookie}`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ].join('\r\n') + '\r\n\r\n';
  const answer = parse(await rawRequest(stack.publicUrl, bytes, { timeoutMs: 3000 }));
  t.equal(answer.status, 403, "nginx's status is relayed");
  t.equal(answer.body, 'refused by nginx\n', "nginx's body is relayed");
  const named = (name: string) => answer.headers.filter(([n]) => n === name).map(([, v]) => v);
  t.same(named('x-echo'), ['Set-Cookie'], 'X-Echo keeps its own value');
  t.same(named('x-after'), ['after'], 'X-After keeps its own value');
  t.same(named('set-cookie'), [], 'no value became a header name');
  t.same(named('content-type'), ['text/plain']);
  t.same(named('content-length'), [String(Buffer.byteLength(answer.body))], "one Content-Length, the gateway's own, matching the body");
  t.same(named('connection'), ['close'], "nginx's Connection: keep-alive is not relayed; the gateway closes");
  t.match(named('server'), [/^nginx/], 'Server stays');
  t.same(
    answer.headers.map(([n]) => n).sort(),
    ['connection', 'content-length', 'content-type', 'date', 'server', 'x-after', 'x-echo'],
    "exactly nginx's headers, less hop-by-hop and framing, plus the gateway's framing",
  );
  const served = (await nginx.served()).at(-1)!;
  t.equal(served.uri, '/refusing/socket', 'nginx served the upgrade attempt');
  t.equal(served.subject, 'user-bob');
});
