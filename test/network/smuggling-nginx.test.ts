// Red-team pass (issue 11): request smuggling, odd upgrades and forged
// headers, judged by what a real nginx (keep-alive to the gateway) served.
// Each attack carries a complete request of the attacker's own after its
// framing trick — GET /agent/smuggled with forged X-Auth-Subject and
// X-Auth-Realm — that nginx would serve as a second request if the gateway
// left any of it on a pooled connection, or passed it through an upgrade
// the helpdesk refused. Whatever the gateway itself reads as a pipelined
// request is judged by it like any other (no session: 401). nginx must never
// serve the smuggled path, the forged identity or the agent realm, and the
// gateway answers no attack with a 5xx.
import t from 'tap';
import { BOB, startTestStack } from '../helpers/stack.js';
import { rawRequest as rawBytes } from '../helpers/hostile-provider.js';
import { startNginxHelpdesk } from '../helpers/nginx-helpdesk.js';

t.test('no framing trick, odd upgrade or forged header reaches nginx', async (t) => {
  const nginx = await startNginxHelpdesk();
  t.teardown(() => nginx.close());
  const stack = await startTestStack({ upstreamUrl: nginx.url });
  t.teardown(() => stack.close());
  const bob = (await stack.signIn('/', BOB)).jar.cookieHeader(`${stack.publicUrl}/`)!;
  const host = new URL(stack.publicUrl).host;
  const smug = `GET /agent/smuggled HTTP/1.1\r\nHost: ${host}\r\nX-Auth-Subject: forged\r\nX-Auth-Realm: agent\r\n\r\n`;
  // a last request that closes the connection, so each attack ends without a timeout
  const end = `GET /end HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
  const head = (line: string, extra: string[]): string => `${line}\r\n${[`Host: ${host}`, `Cookie: ${bob}`, ...extra].join('\r\n')}\r\n\r\n`;
  const post = (extra: string[]): string => head('POST /tickets HTTP/1.1', extra);
  const chunked0 = `0\r\n\r\n${smug}`;
  const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';
  const ws = (path: string, extra: string[]): string =>
    head(`GET ${path} HTTP/1.1`, ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', ...extra]);
  const attacks: Array<[string, string]> = [
    ['CL and TE', post([`Content-Length: ${chunked0.length}`, 'Transfer-Encoding: chunked']) + chunked0 + end],
    ['TE and a short CL', post(['Transfer-Encoding: chunked', 'Content-Length: 4']) + chunked0 + end],
    ['two Content-Lengths', post(['Content-Length: 0', `Content-Length: ${smug.length}`]) + smug + end],
    ['Content-Length list', post([`Content-Length: 0, ${smug.length}`]) + smug + end],
    ['Content-Length +5', post(['Content-Length: +5']) + `hello${smug}${end}`],
    ['Content-Length padded', post(['Content-Length:  5 ']) + `hello${smug}${end}`],
    ['TE folded (obs-fold)', post(['Transfer-Encoding:', ' chunked', `Content-Length: ${chunked0.length}`]) + chunked0 + end],
    ['TE xchunked', post(['Transfer-Encoding: xchunked', `Content-Length: ${chunked0.length}`]) + chunked0 + end],
    ['TE chunked, identity', post(['Transfer-Encoding: chunked, identity']) + chunked0 + end],
    ['TE identity, chunked', post(['Transfer-Encoding: identity, chunked']) + chunked0 + end],
    ['TE with a space before the colon', post(['Transfer-Encoding : chunked']) + chunked0 + end],
    ['TE after a tab', post(['Transfer-Encoding:\tchunked']) + chunked0 + end],
    ['TE Chunked', post(['Transfer-Encoding: Chunked']) + chunked0 + end],
    ['two TEs', post(['Transfer-Encoding: chunked', 'Transfer-Encoding: identity']) + chunked0 + end],
    ['TE named in Connection', post(['Connection: Transfer-Encoding', 'Transfer-Encoding: chunked']) + chunked0 + end],
    ['chunk extensions', post(['Transfer-Encoding: chunked']) + `5;a=b\r\nhello\r\n0;x\r\n\r\n${smug}${end}`],
    ['chunk extension with a quoted CRLF', post(['Transfer-Encoding: chunked']) + `5;a="x\r\n0"\r\nhello\r\n0\r\n\r\n${smug}${end}`],
    ['chunks with bare LF', post(['Transfer-Encoding: chunked']) + `5\nhello\n0\n\n${smug}${end}`],
    ['chunk size 0x5', post(['Transfer-Encoding: chunked']) + `0x5\r\nhello\r\n0\r\n\r\n${smug}${end}`],
    ['chunk size overflow', post(['Transfer-Encoding: chunked']) + `fffffffffffffffff1\r\nhello\r\n0\r\n\r\n${smug}${end}`],
    ['identity header in a trailer', post(['Transfer-Encoding: chunked']) + `5\r\nhello\r\n0\r\nX-Auth-Subject: forged\r\n\r\n${smug}${end}`],
    ['headers with bare LF', post([`Content-Length: ${smug.length}`]).replace(/\r\n/g, '\n') + smug + end],
    ['HTTP/1.0 keep-alive with a body', head('POST /tickets HTTP/1.0', ['Connection: keep-alive', 'Content-Length: 5']) + `hello${smug}${end}`],
    ['HTTP/1.0 keep-alive without a length', head('POST /tickets HTTP/1.0', ['Connection: keep-alive']) + smug + end],
    ['GET with a body', head('GET /tickets HTTP/1.1', [`Content-Length: ${smug.length}`]) + smug + end],
    ['after a GH_AMBIGUOUS_PATH refusal', head('GET /agent#x HTTP/1.1', []) + smug + end],
    ['after a 421', head('GET /tickets HTTP/1.1', []).replace(`Host: ${host}`, 'Host: evil.example') + smug + end],
    ['after a GH_BAD_PATH refusal', head('GET /agent%00 HTTP/1.1', []) + smug + end],
    ['after Expect: 100-continue', head('POST /favicon.ico HTTP/1.1', ['Expect: 100-continue', 'Content-Length: 5']) + `hello${smug}${end}`],
    ['an unknown Expect', post(['Expect: 100-continuex', `Content-Length: ${smug.length}`]) + smug + end],
    ['identity headers named in Connection', head('GET /tickets HTTP/1.1', ['Connection: X-Auth-Realm, X-Auth-Subject, Cookie, Host']) + end],
    ['identity headers in other spellings', head('GET /tickets HTTP/1.1', ['X_Auth_Realm: agent', 'x-auth-realm: agent', 'X-AUTH-SUBJECT: forged']) + end],
    ['identity header with a space before the colon', head('GET /tickets HTTP/1.1', ['X-Auth-Subject : forged']) + end],
    ['identity header folded into another', head('GET /tickets HTTP/1.1', ['X-Foo: a', ' X-Auth-Subject: forged']) + end],
    ['identity header after a bare CR', head('GET /tickets HTTP/1.1', ['X-Foo: a\rX-Auth-Subject: forged']) + end],
    [
      'path overrides and forwarded host',
      head('GET /tickets HTTP/1.1', [
        'X-Original-URL: /agent/smuggled',
        'X-Rewrite-URL: /agent/smuggled',
        'X-Forwarded-Host: evil.example',
        'Forwarded: host=evil.example',
      ]) + end,
    ],
    ['upgrade refused by the backend (no key)', ws('/ws', []) + smug],
    ['upgrade refused by the backend (no version)', head('GET /ws HTTP/1.1', ['Connection: Upgrade', 'Upgrade: websocket', key]) + smug],
    ['upgrade to a path nginx answers with 200', ws('/tickets', [key]) + smug],
    ['upgrade websocket, h2c', ws('/ws', [key]).replace('Upgrade: websocket', 'Upgrade: websocket, h2c') + smug],
    ['upgrade h2c', head('GET /tickets HTTP/1.1', ['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA']) + smug],
    ['two Upgrade headers', ws('/ws', [key, 'Upgrade: h2c']) + smug],
    ['upgrade announcing a body', ws('/ws', [key, `Content-Length: ${smug.length}`]) + smug],
    ['upgrade as a POST', ws('/ws', [key]).replace('GET', 'POST') + smug],
    ['Upgrade without Connection', head('GET /tickets HTTP/1.1', ['Upgrade: websocket', 'Sec-WebSocket-Version: 13', key]) + smug + end],
  ];
  const before = (await nginx.served()).length;
  const answers = await Promise.all(attacks.map(([, bytes]) => rawBytes(stack.publicUrl, bytes, { timeoutMs: 3000 })));
  for (const [i, answer] of answers.entries()) {
    const statuses = [...answer.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
    t.ok(statuses.length > 0 && statuses.every((s) => s < 500), `${attacks[i]![0]}: answered, no 5xx (${statuses.join(', ')})`);
  }
  const served = (await nginx.served()).slice(before);
  const crossed = served.filter(
    (e) => /smuggled|forged/i.test(`${e.requestUri} ${e.subject}`) || e.realm === 'agent' || (e.subject !== '' && e.subject !== 'user-bob'),
  );
  t.same(crossed, [], 'nginx never served the smuggled request, a forged identity or the agent realm');
  // the control: the attacks' own requests did arrive, as bob
  t.ok(
    served.some((e) => e.method === 'POST' && e.uri === '/tickets' && e.subject === 'user-bob'),
    "control: bob's POSTs arrived",
  );
  t.ok(
    served.some((e) => e.uri === '/ws' && e.status === 400),
    'control: a refused upgrade reached the backend',
  );
});
