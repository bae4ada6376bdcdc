// Request smuggling: one client connection carries bytes that a lenient parser
// would read as two requests — conflicting Content-Length and
// Transfer-Encoding (CL.TE, TE.CL), obfuscated Transfer-Encoding, duplicate or
// signed Content-Length, bad chunk sizes, bare LF line ends — with the second
// request aimed at /agent/smuggled, which the gateway would never forward without
// a session. Whatever the gateway answers (400, or one forwarded request), the
// helpdesk must never receive /agent/smuggled, never more than one request per
// attack, and the gateway must keep serving afterwards.
import t from 'tap';
import { request } from 'undici';
import { startHostileStack, rawRequest, signInVia, type HostileStack } from '../helpers/hostile-provider.js';

function attacks(host: string, cookie: string): Array<[string, string]> {
  const smuggled = `GET /agent/smuggled HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
  const chunked = (body: string): string => `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  const head = (path: string, lines: string[]): string => [`POST ${path} HTTP/1.1`, `Host: ${host}`, ...lines].join('\r\n') + '\r\n\r\n';
  const out: Array<[string, string]> = [];
  for (const [where, path, extra] of [
    ['public path', '/favicon.ico', []],
    ['signed-in path', '/tickets', [`Cookie: ${cookie}`]],
  ] as Array<[string, string, string[]]>) {
    out.push(
      [`${where}: CL.TE`, head(path, [...extra, `Content-Length: ${5 + smuggled.length}`, 'Transfer-Encoding: chunked']) + '0\r\n\r\n' + smuggled],
      [`${where}: TE.CL`, head(path, [...extra, 'Content-Length: 4', 'Transfer-Encoding: chunked']) + chunked(smuggled)],
      [
        `${where}: TE.TE (chunked, then identity)`,
        head(path, [...extra, 'Transfer-Encoding: chunked', 'Transfer-Encoding: identity', `Content-Length: ${smuggled.length}`]) + smuggled,
      ],
      [`${where}: TE xchunked`, head(path, [...extra, 'Transfer-Encoding: xchunked', `Content-Length: 4`]) + '0\r\n\r\n' + smuggled],
      [`${where}: TE "chunked, identity"`, head(path, [...extra, 'Transfer-Encoding: chunked, identity', 'Content-Length: 4']) + '0\r\n\r\n' + smuggled],
      [`${where}: TE with a space before the colon`, head(path, [...extra, 'Transfer-Encoding : chunked', 'Content-Length: 4']) + '0\r\n\r\n' + smuggled],
      [`${where}: TE with a tab value`, head(path, [...extra, 'Transfer-Encoding:\tchunked', 'Content-Length: 4']) + '0\r\n\r\n' + smuggled],
      [
        `${where}: TE folded onto the previous line`,
        head(path, [...extra, 'X-Pad: a', ' Transfer-Encoding: chunked', 'Content-Length: 4']) + '0\r\n\r\n' + smuggled,
      ],
      [
        `${where}: TE in upper case with CL`,
        head(path, [...extra, 'TRANSFER-ENCODING: CHUNKED', `Content-Length: ${5 + smuggled.length}`]) + '0\r\n\r\n' + smuggled,
      ],
      [`${where}: two different Content-Length`, head(path, [...extra, 'Content-Length: 0', `Content-Length: ${smuggled.length}`]) + smuggled],
      [`${where}: Content-Length list`, head(path, [...extra, `Content-Length: 0, ${smuggled.length}`]) + smuggled],
      [`${where}: signed Content-Length`, head(path, [...extra, `Content-Length: +${smuggled.length}`]) + smuggled],
      [`${where}: hex Content-Length`, head(path, [...extra, 'Content-Length: 0x10']) + smuggled],
      [`${where}: chunk size overflow`, head(path, [...extra, 'Transfer-Encoding: chunked']) + 'ffffffffffffffffff1\r\nx\r\n0\r\n\r\n' + smuggled],
      [`${where}: chunk size with junk`, head(path, [...extra, 'Transfer-Encoding: chunked']) + '5 x\r\nhello\r\n0\r\n\r\n' + smuggled],
      [
        `${where}: bare LF line ends`,
        `POST ${path} HTTP/1.1\nHost: ${host}\n${extra.map((l) => `${l}\n`).join('')}Content-Length: ${smuggled.length}\nTransfer-Encoding: chunked\n\n0\n\n${smuggled}`,
      ],
      [`${where}: NUL in a header`, head(path, [...extra, 'X-Pad: a\u0000b', `Content-Length: ${smuggled.length}`]) + smuggled],
      [
        `${where}: CR alone in a header`,
        head(path, [...extra, 'X-Pad: a\rTransfer-Encoding: chunked', `Content-Length: ${5 + smuggled.length}`]) + '0\r\n\r\n' + smuggled,
      ],
      [
        `${where}: GET with a body that looks like a request`,
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra.map((l) => `${l}\r\n`).join('')}Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
      ],
    );
  }
  return out;
}

async function stillServes(t: { equal(a: unknown, b: unknown, m?: string): unknown }, stack: HostileStack, label: string): Promise<void> {
  const res = await request(`${stack.gateway.url}/favicon.ico`);
  await res.body.dump();
  t.equal(res.statusCode, 200, `${label}: the gateway still serves`);
}

t.test('no smuggled request reaches the helpdesk', async (t) => {
  const stack = await startHostileStack({ editYaml: (y) => y.replace('limits:\n', 'limits:\n  header_timeout: 1s\n') });
  t.teardown(() => stack.close());
  const { jar } = await signInVia(stack, '/tickets');
  const cookie = jar
    .all(stack.publicUrl)
    .map((c) => `${c.name}=${c.value}`)
    .join('; ');
  const host = new URL(stack.publicUrl).host;
  for (const [label, bytes] of attacks(host, cookie)) {
    const before = stack.upstream.arrivals.length;
    const answer = await rawRequest(stack.gateway.url, bytes, { timeoutMs: 1500 });
    // anything the gateway forwarded was read by the helpdesk before it answered the first request; a
    // smuggled head counts as it arrives, even when its body never comes (then the helpdesk never settles:
    // the bound only lets the assertions below say so)
    await Promise.race([stack.upstream.settled(), new Promise((r) => setTimeout(r, 5000).unref())]);
    const arrived = stack.upstream.arrivals.slice(before);
    t.ok(arrived.length <= 1, `${label}: at most one request reached the helpdesk (${arrived.length})`);
    t.notOk(
      arrived.some((r) => r.url.includes('smuggled')),
      `${label}: /agent/smuggled never reached the helpdesk`,
    );
    t.notMatch(answer, /^HTTP\/1\.1 5\d\d/, `${label}: no 5xx (${answer.slice(0, 15)})`);
    const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    if (statuses.length > 1) t.equal(statuses[1], '401', `${label}: a second request, if read, was judged by the gateway (signed out)`);
  }
  await stillServes(t, stack, 'after all attacks');
  t.ok(stack.upstream.requests.every((r) => !r.url.includes('smuggled')));
});

t.test('pipelined requests are each judged (the harness sees two requests when there are two)', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const host = new URL(stack.publicUrl).host;
  const before = stack.upstream.requests.length;
  const answer = await rawRequest(
    stack.gateway.url,
    `GET /favicon.ico HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /assets/a.js HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /agent/smuggled HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`,
  );
  t.same(
    [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]),
    ['200', '200', '401'],
  );
  t.same(
    stack.upstream.requests.slice(before).map((r) => r.url),
    ['/favicon.ico', '/assets/a.js'],
  );
});
