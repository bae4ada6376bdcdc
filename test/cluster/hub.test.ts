// The primary's hub, with workers faked as message ports: a revoke is answered
// only after every other worker confirmed it; a worker that does not confirm
// makes it fail (never a silent success); one that exits does not hold it up;
// a worker that says hello later gets the entries made before; a state is spent
// once whichever worker asks; one refresh lock at a time.
import t from 'tap';
import { ClusterHub, type WorkerPort } from '../../src/cluster/hub.js';
import type { Envelope, RevocationEntry } from '../../src/cluster/messages.js';

const ENTRY: RevocationEntry = { kind: 'session', realm: 'agent', value: 's1', at: 1000, until: Date.now() + 60_000 };

/** A fake worker: records what it is sent; answers apply-revocation when `confirm` is on. */
function worker(hub: () => ClusterHub, id: number, confirm: boolean): WorkerPort & { got: Envelope[] } {
  const got: Envelope[] = [];
  const port = {
    id,
    got,
    send(message: Envelope) {
      got.push(message);
      if (confirm && 'id' in message && 'kind' in message && message.kind === 'apply-revocation')
        setImmediate(() => hub().receive(port, { gh: 1, reply: message.id, value: null }));
    },
  };
  return port;
}

t.test('a revoke resolves after every other worker confirmed, and the entry reached each of them first', async (t) => {
  const hub: ClusterHub = new ClusterHub({ answerTimeoutMs: 500 });
  const [a, b, c] = [1, 2, 3].map((id) => worker(() => hub, id, true));
  for (const w of [a!, b!, c!]) await hub.handle(w, { kind: 'hello' });
  await hub.handle(a!, { kind: 'revoke', entry: ENTRY });
  for (const w of [b!, c!]) t.match(w.got, [{ kind: 'apply-revocation', entry: { value: 's1' } }], `worker ${w.id} was sent the entry`);
  t.same(a!.got, [], 'the revoking worker applied it itself');
});

t.test('a worker that does not confirm in time fails the revoke; one that exits does not hold it up', async (t) => {
  const hub: ClusterHub = new ClusterHub({ answerTimeoutMs: 200 });
  const a = worker(() => hub, 1, true);
  const silent = worker(() => hub, 2, false);
  await hub.handle(a, { kind: 'hello' });
  await hub.handle(silent, { kind: 'hello' });
  await t.rejects(hub.handle(a, { kind: 'revoke', entry: ENTRY }), /did not confirm/);
  const pending = hub.handle(a, { kind: 'revoke', entry: { ...ENTRY, value: 's2' } });
  hub.detach(silent.id); // it exited: it serves nothing any more
  await t.resolves(pending, 'resolved once the silent worker is gone');
});

t.test('a worker that says hello later gets the revocations made before', async (t) => {
  const hub = new ClusterHub();
  const a = worker(() => hub, 1, true);
  await hub.handle(a, { kind: 'hello' });
  await hub.handle(a, { kind: 'revoke', entry: ENTRY });
  const late = worker(() => hub, 2, true);
  const hello = (await hub.handle(late, { kind: 'hello' })) as { revocations: RevocationEntry[] };
  t.match(hello.revocations, [{ kind: 'session', realm: 'agent', value: 's1' }]);
});

t.test('spent once across workers; one refresh lock holder; counts summed', async (t) => {
  let now = 1_000_000;
  const hub = new ClusterHub({ now: () => now });
  const a = worker(() => hub, 1, true);
  const b = worker(() => hub, 2, true);
  t.equal(await hub.handle(a, { kind: 'spend', key: 'state-1', ttlMs: 1000 }), true);
  t.equal(await hub.handle(b, { kind: 'spend', key: 'state-1', ttlMs: 1000 }), false, 'the other worker cannot spend it again');
  now += 1001;
  t.equal(await hub.handle(b, { kind: 'spend', key: 'state-1', ttlMs: 1000 }), true, 'forgotten after its ttl');
  const lock = await hub.handle(a, { kind: 'refresh-lock', key: 'k', ttlMs: 1000 });
  t.type(lock, 'string');
  t.equal(await hub.handle(b, { kind: 'refresh-lock', key: 'k', ttlMs: 1000 }), null, 'held');
  await hub.handle(b, { kind: 'refresh-unlock', key: 'k', token: 'not-the-token' });
  t.equal(await hub.handle(b, { kind: 'refresh-lock', key: 'k', ttlMs: 1000 }), null, 'only the holder unlocks');
  await hub.handle(a, { kind: 'refresh-unlock', key: 'k', token: lock as string });
  t.type(await hub.handle(b, { kind: 'refresh-lock', key: 'k', ttlMs: 1000 }), 'string');
  await hub.handle(a, { kind: 'callback-failed', ip: '192.0.2.1', now });
  t.match(await hub.handle(b, { kind: 'callback-failed', ip: '192.0.2.1', now }), { ip: '192.0.2.1', count: 2 });
});
