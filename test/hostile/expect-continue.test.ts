// "Expect: 100-continue" (curl sends it with every body over 1 KiB, many HTTP
// clients with uploads): node's server answers the 100 to the client itself,
// so the header must not go on to the helpdesk — undici refuses a request that
// carries it, and the person got a 502 for an ordinary upload. Judged by what a
// real nginx as the helpdesk served.
import t from 'tap';
import { connect } from 'node:net';
import { BOB, startTestStack } from '../helpers/stack.js';
import { startNginxHelpdesk } from '../helpers/nginx-helpdesk.js';

/** Send the head, wait for "100 Continue", then the body; resolve the final status line. */
function postWithExpect(baseUrl: string, head: string, body: string): Promise<{ interim: boolean; final: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let data = '';
    let sentBody = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no final answer: ${JSON.stringify(data)}`));
    }, 5000);
    socket.setEncoding('latin1');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (!sentBody && data.startsWith('HTTP/1.1 100 ')) {
        sentBody = true;
        socket.write(body);
      }
      const final = data.replace(/^HTTP\/1\.1 100 [^\r]*\r\n\r\n/, '');
      if (final.includes('\r\n\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ interim: sentBody, final: final.split('\r\n')[0]! });
      }
    });
    socket.write(head);
  });
}

t.test('a POST with Expect: 100-continue reaches the helpdesk, signed in and anonymous', async (t) => {
  const nginx = await startNginxHelpdesk();
  t.teardown(() => nginx.close());
  const stack = await startTestStack({ upstreamUrl: nginx.url });
  t.teardown(() => stack.close());
  const bob = (await stack.signIn('/', BOB)).jar.cookieHeader(`${stack.publicUrl}/`)!;
  const host = new URL(stack.publicUrl).host;
  const body = 'x'.repeat(2048);
  const before = (await nginx.served()).length;
  for (const [path, cookie] of [
    ['/tickets', `Cookie: ${bob}\r\n`],
    ['/favicon.ico', ''],
  ] as const) {
    const head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\n${cookie}Accept: application/json\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
    const answer = await postWithExpect(stack.publicUrl, head, body);
    t.ok(answer.interim, `${path}: the client was told to continue`);
    t.equal(answer.final, 'HTTP/1.1 200 OK', `${path}: answered by the helpdesk, not a 502`);
  }
  const served = (await nginx.served()).slice(before);
  t.same(
    served.map((e) => [e.method, e.uri, e.subject]),
    [
      ['POST', '/tickets', 'user-bob'],
      ['POST', '/favicon.ico', ''],
    ],
    "nginx served both POSTs, with bob's identity on his",
  );
});
