/**
 * A worker's end of the IPC channel to the cluster primary: requests with
 * answers (bounded in time), and handlers for what the primary asks or tells.
 * One link per worker process.
 */
import cluster from 'node:cluster';
import { isEnvelope, type PrimaryNotice, type PrimaryRequest, type WorkerRequest } from './messages.js';

const REQUEST_TIMEOUT_MS = 5000;

type Answerer = (request: PrimaryRequest) => unknown;
type NoticeHandler = (notice: PrimaryNotice) => void;

export class PrimaryLink {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  private readonly answerers = new Map<PrimaryRequest['kind'], Answerer>();
  private readonly noticeHandlers = new Map<PrimaryNotice['kind'], NoticeHandler>();

  constructor(private readonly timeoutMs = REQUEST_TIMEOUT_MS) {
    process.on('message', (message: unknown) => this.receive(message));
    process.on('disconnect', () => {
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        clearTimeout(p.timer);
        p.reject(new Error('the cluster primary is gone'));
      }
    });
  }

  request<T>(request: WorkerRequest): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the cluster primary did not answer ${request.kind} in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      if (!process.connected || !process.send) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new Error('the cluster primary is gone'));
        return;
      }
      process.send({ gh: 1, id, ...request }, undefined, undefined, (error: Error | null) => {
        if (!error) return;
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        clearTimeout(p.timer);
        reject(error);
      });
    });
  }

  /** What to answer when the primary asks this kind of question. */
  answer(kind: PrimaryRequest['kind'], answerer: Answerer): void {
    this.answerers.set(kind, answerer);
  }

  onNotice(kind: PrimaryNotice['kind'], handler: NoticeHandler): void {
    this.noticeHandlers.set(kind, handler);
  }

  private receive(message: unknown): void {
    if (!isEnvelope(message)) return;
    if ('reply' in message) {
      const p = this.pending.get(message.reply);
      if (!p) return;
      this.pending.delete(message.reply);
      clearTimeout(p.timer);
      if (message.error !== undefined) p.reject(new Error(message.error));
      else p.resolve(message.value);
      return;
    }
    if (!('id' in message)) {
      this.noticeHandlers.get(message.kind)?.(message);
      return;
    }
    const id = message.id;
    const answerer = this.answerers.get(message.kind as PrimaryRequest['kind']);
    const send = (body: { value?: unknown; error?: string }): void => {
      if (process.connected) process.send?.({ gh: 1, reply: id, ...body });
    };
    if (!answerer) {
      send({ error: `no answer for ${message.kind}` });
      return;
    }
    Promise.resolve()
      .then(() => answerer(message as PrimaryRequest))
      .then(
        (value) => send({ value }),
        (error: unknown) => send({ error: (error as Error).message }),
      );
  }
}

let link: PrimaryLink | null = null;

/** This process's link, when it is a worker of a gatehouse cluster primary; null otherwise. */
export function primaryLink(): PrimaryLink | null {
  if (!cluster.isWorker || process.env.GATEHOUSE_CLUSTER_WORKER !== '1' || !process.send) return null;
  link ??= new PrimaryLink();
  return link;
}
