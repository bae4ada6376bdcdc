/**
 * Draining the listener's connections on shutdown without resetting anyone.
 *
 * From drain() on, every answer whose head is not written yet says
 * `Connection: close`, so Node closes its connection right after the answer
 * and a client that honours it never sends another request there. A keep-alive
 * connection with no request in flight is closed once it has been quiet for
 * QUIET_BEFORE_CLOSE_MS — at once when it already has been at the signal.
 *
 * Why not close every idle connection at the signal: "idle" to Node means no
 * request parsed yet, and under load a client's next request is often already
 * in the kernel's buffer, unread. Closing then resets that client (the race the
 * old 100 ms sweep lost). A client that is still sending sends within moments
 * of its last answer, gets the next one with `Connection: close`, and leaves.
 *
 * WebSockets never end by themselves: they are closed at once, so their clients
 * reconnect to another instance. cut() is the drain bound: it ends whatever is left.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** A client still sending sends its next request well within this of its last answer. */
export const QUIET_BEFORE_CLOSE_MS = 1000;

interface ConnectionState {
  /** requests received and not yet answered (HTTP/1.1 pipelining can make it more than one) */
  inFlight: number;
  /** when its last answer ended (or it connected), performance.now() */
  quietSince: number;
  closing: boolean;
}

export class ConnectionDrain {
  /** the sockets requests arrive on (the TLS sockets under listen.tls) */
  private readonly connections = new Map<Socket, ConnectionState>();
  /** every TCP connection, handshakes included, for cut() */
  private readonly transports = new Set<Socket>();
  private readonly upgraded = new Set<Duplex>();
  /** answers in progress while not draining: their heads may still say keep-alive */
  private readonly answering = new Set<ServerResponse>();
  private draining = false;

  constructor(server: Server, tls: boolean) {
    server.on('connection', (socket: Socket) => {
      this.transports.add(socket);
      socket.once('close', () => this.transports.delete(socket));
      if (!tls) this.track(socket);
    });
    if (tls) server.on('secureConnection', (socket: Socket) => this.track(socket));
    // before the gateway's own handler, so the flag is set before anything writes the head
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      this.connections.delete(req.socket);
      this.upgraded.add(socket);
      socket.once('close', () => this.upgraded.delete(socket));
      if (this.draining) socket.destroy();
    });
    // Node's server.close() (and Fastify's close) close every idle connection at once: the race above
    server.closeIdleConnections = () => this.closeQuietConnections();
  }

  get size(): number {
    return this.transports.size;
  }

  get websockets(): number {
    return this.upgraded.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Stop keeping connections alive: see the module comment. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    for (const socket of this.upgraded) socket.destroy();
    for (const res of this.answering) if (!res.headersSent) res.shouldKeepAlive = false;
    this.answering.clear();
    this.closeQuietConnections();
  }

  /** The drain bound: end every connection still open. */
  cut(): void {
    for (const socket of this.upgraded) socket.destroy();
    for (const socket of this.transports) socket.destroy();
  }

  private track(socket: Socket): void {
    const state: ConnectionState = { inFlight: 0, quietSince: performance.now(), closing: false };
    this.connections.set(socket, state);
    socket.once('close', () => this.connections.delete(socket));
    if (this.draining) this.closeWhenQuiet(socket, state);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    let state = this.connections.get(socket);
    if (!state) {
      state = { inFlight: 0, quietSince: performance.now(), closing: false };
      this.connections.set(socket, state);
    }
    state.inFlight++;
    if (this.draining) res.shouldKeepAlive = false;
    else this.answering.add(res);
    const connection = state;
    res.once('close', () => {
      this.answering.delete(res);
      connection.inFlight--;
      connection.quietSince = performance.now();
      // an answer that said Connection: close has its connection closed by Node once it is written
      if (this.draining && res.shouldKeepAlive) this.closeWhenQuiet(socket, connection);
    });
  }

  private closeQuietConnections(): void {
    if (!this.draining) return;
    for (const [socket, state] of this.connections) if (state.inFlight === 0) this.closeWhenQuiet(socket, state);
  }

  private closeWhenQuiet(socket: Socket, state: ConnectionState): void {
    if (state.closing || state.inFlight > 0) return;
    state.closing = true;
    const wait = Math.max(0, state.quietSince + QUIET_BEFORE_CLOSE_MS - performance.now());
    const timer = setTimeout(() => {
      // one more turn of the event loop first: a request already received is read (and counted) before we look
      setImmediate(() => {
        state.closing = false;
        if (state.inFlight === 0) socket.destroy();
      });
    }, wait);
    timer.unref();
  }
}
