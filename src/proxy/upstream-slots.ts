/**
 * Admission to the helpdesk's connection pool, ahead of undici's own queue.
 * A request waits for a connection here, not inside undici (whose timeouts
 * start only once a request is on a connection), so that its deadline runs
 * from its arrival and a request that gives up leaves the queue without
 * touching a connection. Anonymous requests (public paths) may hold at most a
 * quarter of the connections, and signed-in requests go first when one frees:
 * slow or numerous public traffic cannot starve signed-in people.
 */
export type SlotKind = 'signed-in' | 'public';

export interface SlotWaiter {
  readonly kind: SlotKind;
  /** null once granted or cancelled */
  grant: (() => void) | null;
}

/** FIFO of waiters; cancelled ones are skipped when they come up (O(1) cancel). */
class WaitQueue {
  private items: SlotWaiter[] = [];
  private head = 0;
  /** waiters not granted or cancelled */
  live = 0;

  push(waiter: SlotWaiter): void {
    this.items.push(waiter);
    this.live++;
  }

  shift(): SlotWaiter | null {
    while (this.head < this.items.length) {
      const waiter = this.items[this.head++]!;
      if (waiter.grant !== null) {
        this.live--;
        this.compact();
        return waiter;
      }
    }
    this.compact();
    return null;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export class UpstreamSlots {
  private total = 1;
  private publicLimit = 1;
  private busy = 0;
  private publicBusy = 0;
  private readonly signedIn = new WaitQueue();
  private readonly anonymous = new WaitQueue();

  constructor(connections: number) {
    this.resize(connections);
  }

  /** A reload changed upstream.max_connections: requests in flight keep their slots. */
  resize(connections: number): void {
    this.total = connections;
    this.publicLimit = Math.max(1, Math.floor(connections / 4));
    this.grantWaiting();
  }

  /** How many anonymous requests may hold a connection at once. */
  get publicShare(): number {
    return this.publicLimit;
  }

  /**
   * A slot for one request: null when granted at once (the caller goes on),
   * otherwise a waiter whose grant is called (in a microtask) when a slot is its.
   */
  acquire(kind: SlotKind, grant: () => void): SlotWaiter | null {
    if (this.busy < this.total && this.signedIn.live === 0) {
      if (kind === 'signed-in') {
        this.busy++;
        return null;
      }
      if (this.anonymous.live === 0 && this.publicBusy < this.publicLimit) {
        this.busy++;
        this.publicBusy++;
        return null;
      }
    }
    const waiter: SlotWaiter = { kind, grant };
    (kind === 'signed-in' ? this.signedIn : this.anonymous).push(waiter);
    return waiter;
  }

  /** The request gave up waiting (deadline, client gone). */
  cancel(waiter: SlotWaiter): void {
    if (waiter.grant === null) return;
    waiter.grant = null;
    (waiter.kind === 'signed-in' ? this.signedIn : this.anonymous).live--;
  }

  release(kind: SlotKind): void {
    this.busy--;
    if (kind === 'public') this.publicBusy--;
    this.grantWaiting();
  }

  private grantWaiting(): void {
    while (this.busy < this.total) {
      let waiter = this.signedIn.shift();
      if (waiter === null && this.publicBusy < this.publicLimit) waiter = this.anonymous.shift();
      if (waiter === null) return;
      this.busy++;
      if (waiter.kind === 'public') this.publicBusy++;
      const grant = waiter.grant!;
      waiter.grant = null;
      // not from inside the undici callback that released the slot
      queueMicrotask(grant);
    }
  }
}
