// Which of a browser's request headers reach the helpdesk (src/proxy/forward.ts
// upstreamHeaders). Header names are judged once per spelling and remembered,
// so the same name must be judged the same way in every spelling and on every
// request: hop-by-hop names listed in Connection are dropped (Cookie too, when
// listed), the helpdesk's own cookies pass while the gateway's are stripped
// wherever they sit in the header, and ordinary headers pass byte for byte.
import t from 'tap';
import { startHostileStack, signInVia, rawRequest } from '../helpers/hostile-provider.js';

t.test('request headers forwarded to the helpdesk', async (t) => {
  const stack = await startHostileStack();
  t.teardown(() => stack.close());
  const { jar } = await signInVia(stack);
  const host = new URL(stack.publicUrl).host;
  const session = jar
    .all(stack.publicUrl)
    .map((c) => `${c.name}=${c.value}`)
    .join('; ');
  const send = async (lines: string[]): Promise<string[]> => {
    const answer = await rawRequest(
      stack.gateway.url,
      [`GET /agent/headers HTTP/1.1`, `Host: ${host}`, 'Accept: application/json', ...lines, 'Connection: close', '', ''].join('\r\n'),
    );
    t.match(answer, /^HTTP\/1\.1 200 /);
    return stack.upstream.requests.at(-1)!.rawHeaders;
  };
  const values = (raw: string[], name: string): string[] =>
    raw.filter((_, i) => i % 2 === 0 && raw[i]!.toLowerCase() === name).map((n) => raw[raw.indexOf(n) + 1]!);
  const pairs = (raw: string[]): Array<[string, string]> => Array.from({ length: raw.length / 2 }, (_, i) => [raw[2 * i]!, raw[2 * i + 1]!]);

  for (let round = 0; round < 3; round++) {
    // the same names on every request, as a browser sends them: judged the same each time
    const raw = await send([
      `Cookie: helpdesk_sid=abc; ${session}; theme=dark`,
      'X-Keep-Me: kept',
      'x-keep-me: kept too',
      'X-Drop-Me: gone',
      'Connection: X-Drop-Me',
    ]);
    const seen = pairs(raw);
    t.same(
      seen.filter(([n]) => n.toLowerCase() === 'x-keep-me'),
      [
        ['X-Keep-Me', 'kept'],
        ['x-keep-me', 'kept too'],
      ],
      `round ${round}: ordinary headers pass, names and values as sent`,
    );
    t.notOk(
      seen.some(([n]) => n.toLowerCase() === 'x-drop-me'),
      `round ${round}: a header listed in Connection is dropped`,
    );
    const cookies = seen.filter(([n]) => n.toLowerCase() === 'cookie').map(([, v]) => v);
    t.same(cookies, ['helpdesk_sid=abc; theme=dark'], `round ${round}: the helpdesk's cookies pass, the gateway's are stripped`);
  }
  const listed = await send([`Cookie: helpdesk_sid=abc; ${session}`, 'Connection: Cookie']);
  t.same(values(listed, 'cookie'), [], 'Cookie listed in Connection: no Cookie header at all');
  const onlyOurs = await send([`Cookie: ${session}`]);
  t.same(values(onlyOurs, 'cookie'), [], "only the gateway's cookies: no Cookie header");
  const mixedCase = await send([`COOKIE: a=1; ${session}`, 'X-DROP-ME: gone', 'connection: x-drop-me']);
  t.same(values(mixedCase, 'cookie'), ['a=1'], 'a name in another spelling is judged the same');
  t.same(values(mixedCase, 'x-drop-me'), [], 'listed in lower case, sent in upper case: dropped');
});
