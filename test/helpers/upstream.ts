// An echo upstream for gateway tests: records every request it receives
// (websocket upgrades included) and answers with what it saw.
//   /slow?ms=N   waits N ms before answering
//   /status/N    answers with status N
//   ?respond-header=Name:value   (repeatable, any path) adds that header to the answer
//   websocket    any path; first message is JSON of the upgrade request's headers, then echo
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  rawHeaders: string[];
  body: string;
  upgrade?: boolean; // true for a websocket upgrade
}

/** A request as it arrived: its head, before (or without) its body. */
export interface Arrival {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
}

export interface Upstream {
  url: string;
  port: number;
  /** every request received in full (or upgraded) */
  requests: RecordedRequest[];
  /** every request whose head arrived, complete or not (a body that never ends is still here) */
  arrivals: Arrival[];
  /** resolves with the first arrival (earlier or to come) that matches */
  arrival(match: (arrival: Arrival) => boolean): Promise<Arrival>;
  /** resolves once every request that has arrived has been answered (or its connection closed) */
  settled(): Promise<void>;
  close(): Promise<void>;
}

function plainHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = v;
  return out;
}

export async function startUpstream(): Promise<Upstream> {
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const wss = new WebSocketServer({ noServer: true });

  const arrivals: Arrival[] = [];
  const arrivalWaiters: Array<{ match: (a: Arrival) => boolean; resolve: (a: Arrival) => void }> = [];
  const arrive = (req: IncomingMessage): void => {
    const arrived: Arrival = { method: req.method ?? 'GET', url: req.url ?? '/', headers: plainHeaders(req) };
    arrivals.push(arrived);
    for (const waiter of [...arrivalWaiters]) {
      if (!waiter.match(arrived)) continue;
      arrivalWaiters.splice(arrivalWaiters.indexOf(waiter), 1);
      waiter.resolve(arrived);
    }
  };
  let unanswered = 0;
  let settledWaiters: Array<() => void> = [];
  const answered = (): void => {
    if (--unanswered > 0) return;
    for (const resolve of settledWaiters) resolve();
    settledWaiters = [];
  };

  const server = createServer((req, res) => {
    arrive(req);
    unanswered++;
    res.once('close', answered);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: plainHeaders(req),
        rawHeaders: [...req.rawHeaders],
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      answer(req, res, recorded);
    });
  });

  function answer(req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest): void {
    const url = new URL(recorded.url, 'http://upstream');
    const payload = JSON.stringify({ ok: true, method: recorded.method, url: recorded.url, headers: recorded.headers, body: recorded.body });
    const reply = (status: number) => {
      if (res.destroyed) return;
      const empty = status === 204 || status === 304 || (status >= 100 && status < 200) || req.method === 'HEAD';
      const extra: Record<string, string> = {};
      for (const line of url.searchParams.getAll('respond-header')) extra[line.slice(0, line.indexOf(':'))] = line.slice(line.indexOf(':') + 1).trim();
      res.writeHead(status, { 'content-type': 'application/json', ...extra, ...(empty ? {} : { 'content-length': Buffer.byteLength(payload) }) });
      res.end(empty ? undefined : payload);
    };
    const status = /^\/status\/(\d{3})$/.exec(url.pathname);
    if (status) {
      reply(Number(status[1]));
      return;
    }
    if (url.pathname === '/slow') {
      const ms = Math.max(0, Math.min(Number(url.searchParams.get('ms') ?? '1000') || 0, 60_000));
      const timer = setTimeout(() => {
        timers.delete(timer);
        reply(200);
      }, ms);
      timers.add(timer);
      res.on('close', () => {
        clearTimeout(timer);
        timers.delete(timer);
      });
      return;
    }
    reply(200);
  }

  server.on('upgrade', (req, socket, head) => {
    arrive(req);
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: plainHeaders(req), rawHeaders: [...req.rawHeaders], body: '', upgrade: true });
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => ws.terminate());
      ws.send(JSON.stringify(plainHeaders(req)));
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    arrivals,
    arrival: (match) => {
      const seen = arrivals.find(match);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => arrivalWaiters.push({ match, resolve }));
    },
    settled: () => (unanswered === 0 ? Promise.resolve() : new Promise<void>((resolve) => settledWaiters.push(resolve))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
