// Adversarial pass on forward-auth: upgrades through real nginx and real Caddy
// running their documented snippets. A WebSocket handshake without a session,
// with another realm's session, from a page of another origin, and an h2c
// upgrade (after which the connection would carry requests no one judges):
// none may reach the helpdesk as an upgrade. Judged by what the upstream received.
import t from 'tap';
import { ALICE, BOB } from '../helpers/stack.js';
import { rawRequest as rawBytes } from '../helpers/hostile-provider.js';
import { startFronts, type Front } from './fronts.js';

let fronts: Front[];
const cookies = new Map<Front, { alice: string; bob: string }>();
t.before(async () => {
  fronts = await startFronts();
  for (const front of fronts) cookies.set(front, { alice: await front.cookieFor('agent', ALICE), bob: await front.cookieFor('user', BOB) });
});
t.teardown(() => Promise.all(fronts.map((f) => f.close())));

function handshake(front: Front, path: string, extra: string): Promise<string> {
  const host = new URL(front.publicUrl).host;
  return rawBytes(
    front.publicUrl,
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`,
    { untilHead: true, timeoutMs: 3000 },
  );
}

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
}

t.test('WebSocket handshakes that may not pass: none reaches the helpdesk', async (t) => {
  for (const front of fronts) {
    const { alice, bob } = cookies.get(front)!;
    const before = front.upstream.requests.length;
    const anonymous = await handshake(front, '/agent/ws', `Origin: ${front.publicUrl}\r\n`);
    t.ok([401, 403].includes(statusOf(anonymous)), `${front.name}: no session: refused (${statusOf(anonymous)})`);
    const otherRealm = await handshake(front, '/agent/ws', `Origin: ${front.publicUrl}\r\nCookie: ${bob}\r\n`);
    t.ok([401, 403].includes(statusOf(otherRealm)), `${front.name}: the user realm's session on an agent path: refused (${statusOf(otherRealm)})`);
    const crossSite = await handshake(front, '/agent/ws', `Origin: https://evil.example\r\nCookie: ${alice}\r\n`);
    t.equal(statusOf(crossSite), 403, `${front.name}: a page of another origin: refused, however signed in`);
    const nullOrigin = await handshake(front, '/agent/ws', `Origin: null\r\nCookie: ${alice}\r\n`);
    t.equal(statusOf(nullOrigin), 403, `${front.name}: a sandboxed page (Origin: null): refused`);
    t.same(
      front.upstream.requests
        .slice(before)
        .filter((r) => r.upgrade)
        .map((r) => r.url),
      [],
      `${front.name}: no upgrade reached the helpdesk`,
    );
    // the control: the same handshake, signed in and same-origin, does
    const allowed = await handshake(front, '/agent/ws', `Origin: ${front.publicUrl}\r\nCookie: ${alice}\r\n`);
    t.equal(statusOf(allowed), 101, `${front.name}: control: alice's own handshake is upgraded`);
  }
});

t.test('an h2c upgrade never reaches the helpdesk, however signed in', async (t) => {
  for (const front of fronts) {
    const { alice } = cookies.get(front)!;
    const host = new URL(front.publicUrl).host;
    const before = front.upstream.requests.length;
    const answer = await rawBytes(
      front.publicUrl,
      `GET /agent/tickets HTTP/1.1\r\nHost: ${host}\r\nCookie: ${alice}\r\nAccept: application/json\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
      { untilHead: true, timeoutMs: 3000 },
    );
    t.not(statusOf(answer), 101, `${front.name}: not switched to h2c (${statusOf(answer)})`);
    const arrived = front.upstream.requests.slice(before);
    t.notOk(
      arrived.some((r) =>
        String(r.headers.upgrade ?? '')
          .toLowerCase()
          .includes('h2c'),
      ),
      `${front.name}: no h2c upgrade reached the helpdesk`,
    );
  }
});
