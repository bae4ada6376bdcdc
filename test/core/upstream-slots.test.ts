// The gateway's queue for helpdesk connections (src/proxy/upstream-slots.ts):
// a slot per pool connection, a quarter of them at most for anonymous
// requests, signed-in requests first when one frees, and a waiter that gives
// up leaves without taking a slot.
import t from 'tap';
import { UpstreamSlots } from '../../src/proxy/upstream-slots.js';

const microtasks = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('anonymous requests hold at most a quarter; signed-in ones go first', async (t) => {
  const slots = new UpstreamSlots(8);
  t.equal(slots.publicShare, 2);
  const granted: string[] = [];
  const take = (kind: 'signed-in' | 'public', name: string) => {
    const waiter = slots.acquire(kind, () => granted.push(name));
    if (waiter === null) granted.push(name);
    return waiter;
  };
  take('public', 'p1');
  take('public', 'p2');
  t.not(take('public', 'p3'), null, 'a third anonymous request waits although 6 connections are free');
  for (let i = 1; i <= 6; i++) t.equal(take('signed-in', `s${i}`), null, `signed-in ${i} is served at once`);
  t.same(granted, ['p1', 'p2', 's1', 's2', 's3', 's4', 's5', 's6']);
  take('signed-in', 's7');
  const gaveUp = take('signed-in', 's8');
  slots.cancel(gaveUp!);

  slots.release('signed-in');
  await microtasks();
  t.same(granted.slice(8), ['s7'], 'a freed connection goes to the waiting signed-in request, not the older anonymous one');
  slots.release('public');
  await microtasks();
  t.same(granted.slice(9), ['p3'], 'the cancelled waiter is skipped; an anonymous one takes its share back');
  slots.release('signed-in');
  await microtasks();
  t.same(granted.slice(10), [], 'nothing else waits');
  t.equal(slots.acquire('public', () => {}) !== null, true, 'the anonymous share is in use');
  t.equal(
    slots.acquire('signed-in', () => {}),
    null,
    'a free connection is there for a signed-in request',
  );
});

t.test('when a connection frees, a waiting signed-in request gets it before an older anonymous one', async (t) => {
  const slots = new UpstreamSlots(4);
  const granted: string[] = [];
  t.equal(
    slots.acquire('public', () => {}),
    null,
  );
  for (let i = 0; i < 3; i++)
    t.equal(
      slots.acquire('signed-in', () => {}),
      null,
    );
  slots.acquire('public', () => granted.push('anonymous, waiting first'));
  slots.acquire('signed-in', () => granted.push('signed-in, waiting second'));
  slots.release('public');
  await microtasks();
  t.same(granted, ['signed-in, waiting second']);
  slots.release('signed-in');
  await microtasks();
  t.same(granted, ['signed-in, waiting second', 'anonymous, waiting first']);
});

t.test('a pool of 1 still lets anonymous requests in, one at a time', async (t) => {
  const slots = new UpstreamSlots(1);
  t.equal(slots.publicShare, 1);
  t.equal(
    slots.acquire('public', () => {}),
    null,
  );
  let second = false;
  slots.acquire('public', () => (second = true));
  slots.release('public');
  await microtasks();
  t.equal(second, true);
});
