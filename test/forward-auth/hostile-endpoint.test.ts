// Adversarial pass on forward-auth: the endpoint itself. Asked directly by a
// peer that is not in trusted_proxies, with every header a proxy would send
// forged (and a forged X-Forwarded-For naming the trusted proxy), it refuses
// before judging anything. Asked from outside through nginx or Caddy, in any
// spelling of /.gatehouse/auth, it never answers an identity: the snippets keep
// it for the proxy's own checks. Its answer must never carry alice's identity to
// the client (a script on the helpdesk's origin could read her assertion).
import t from 'tap';
import { ALICE } from '../helpers/stack.js';
import { rawRequest as rawBytes } from '../helpers/hostile-provider.js';
import { UNTRUSTED_ADDRESS } from '../helpers/forward-auth-stack.js';
import { startFronts, type Front } from './fronts.js';

let fronts: Front[];
const alice = new Map<Front, string>();
t.before(async () => {
  fronts = await startFronts();
  for (const front of fronts) alice.set(front, await front.cookieFor('agent', ALICE));
});
t.teardown(() => Promise.all(fronts.map((f) => f.close())));

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
}

t.test('from a peer not in trusted_proxies: 403, nothing judged, whatever it forges', async (t) => {
  for (const front of fronts) {
    const host = new URL(front.publicUrl).host;
    for (const dialect of [`X-Original-URI: /agent/tickets\r\nX-Original-Method: GET\r\n`, `X-Forwarded-Uri: /agent/tickets\r\nX-Forwarded-Method: GET\r\n`]) {
      const answer = await rawBytes(
        front.gatewayUrl,
        `GET /.gatehouse/auth HTTP/1.1\r\nHost: ${host}\r\n${dialect}X-Forwarded-Host: ${host}\r\nX-Forwarded-Proto: http\r\nX-Forwarded-For: 127.0.0.1\r\nX-Real-IP: 127.0.0.1\r\nCookie: ${alice.get(front)}\r\nConnection: close\r\n\r\n`,
        { localAddress: UNTRUSTED_ADDRESS, timeoutMs: 3000 },
      );
      t.equal(statusOf(answer), 403, `${front.name}'s gateway: refused`);
      t.notMatch(answer, /x-auth-subject|user-alice|x-auth-assertion/i, 'no identity in the answer');
      t.match(answer, /GH_FORWARD_AUTH_UNTRUSTED/, 'saying why');
    }
  }
});

t.test('from outside, through the proxy, in any spelling: the endpoint never answers an identity', async (t) => {
  const targets = [
    '/.gatehouse/auth',
    '/.gatehouse/auth?x=1',
    '/.gatehouse//auth',
    '/.gatehouse/./auth',
    '/.gatehouse/x/../auth',
    '//.gatehouse/auth',
    '/%2Egatehouse/auth',
    '/.gatehouse/%61uth',
    '/.gatehouse%2fauth',
    '/.GATEHOUSE/AUTH',
    '/.gatehouse/Auth',
    '/x/../.gatehouse/auth',
    '/.gatehouse/auth/',
    '/.gatehouse/auth;x',
    '/.gatehouse/auth%3F',
    '/.gatehouse/auth%20',
    '/.gatehouse/auth.',
  ];
  for (const front of fronts) {
    const host = new URL(front.publicUrl).host;
    const before = front.upstream.requests.length;
    for (const target of targets) {
      for (const dialect of ['X-Original-URI: /agent/tickets\r\nX-Original-Method: GET', 'X-Forwarded-Uri: /agent/tickets\r\nX-Forwarded-Method: GET']) {
        const answer = await rawBytes(
          front.publicUrl,
          `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${dialect}\r\nCookie: ${alice.get(front)}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`,
          { timeoutMs: 3000 },
        );
        const head = answer.slice(0, answer.indexOf('\r\n\r\n'));
        t.notMatch(head, /^x-auth-(subject|assertion):\s*\S/im, `${front.name}: ${target}: no identity answered (${statusOf(answer)})`);
        t.not(statusOf(answer), 200, `${front.name}: ${target}: not a 200`);
      }
    }
    t.same(
      front.upstream.requests.slice(before).map((r) => r.url),
      [],
      `${front.name}: none of it reached the helpdesk`,
    );
  }
});
