// The forwarding mechanics the hot path relies on (src/proxy/forward.ts forward):
// large answers streamed with backpressure, request bodies passed through,
// header bytes kept exact, hop-by-hop response headers dropped, and a client
// that goes away taking its upstream request with it.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { startTestStack } from '../helpers/stack.js';

const BIG = randomBytes(8 * 1024 * 1024);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
// "résumé ✓.pdf" as UTF-8 bytes, sent by the helpdesk as raw header bytes
const FILENAME_BYTES = Buffer.from('attachment; filename="résumé ✓.pdf"', 'utf8');

interface Helpdesk {
  url: string;
  /** resolves when the helpdesk sees the connection of a /forever request close */
  foreverClosed: Promise<void>;
  uploads: string[];
  close(): Promise<void>;
}

async function startHelpdesk(): Promise<Helpdesk> {
  const uploads: string[] = [];
  let closedForever!: () => void;
  const foreverClosed = new Promise<void>((resolve) => (closedForever = resolve));
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    if (path.startsWith('/files/big')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
      res.end(BIG);
    } else if (path.startsWith('/files/upload')) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        uploads.push(sha(Buffer.concat(chunks)));
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('stored');
      });
    } else if (path.startsWith('/files/headers')) {
      res.writeHead(200, [
        'Content-Type',
        'text/plain',
        'Content-Disposition',
        FILENAME_BYTES.toString('latin1'),
        'Set-Cookie',
        'helpdesk_a=1; Path=/',
        'Set-Cookie',
        'helpdesk_b=2; Path=/',
        'Keep-Alive',
        'timeout=99',
        'Proxy-Authenticate',
        'Basic realm="upstream"',
        'Content-Length',
        '2',
      ]);
      // a Buffer, not a string: node:http writes the head in the first chunk's encoding (a string would be UTF-8, re-encoding our raw bytes)
      res.end(Buffer.from('ok'));
    } else if (path.startsWith('/files/forever')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.on('close', () => closedForever());
      const timer = setInterval(() => res.write('tick\n'), 20);
      timers.add(timer);
      res.on('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    foreverClosed,
    uploads,
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

t.test('forwarding streams, passes bodies, keeps header bytes and follows the client', async (t) => {
  const helpdesk = await startHelpdesk();
  t.teardown(() => helpdesk.close());
  const stack = await startTestStack({
    editYaml: (yaml) =>
      yaml
        .replace(/upstream:\n {2}url: .*/, `upstream:\n  url: ${helpdesk.url}`)
        .replace('public_paths:\n  - /favicon.ico', 'public_paths:\n  - /favicon.ico\n  - /files/**'),
  });
  t.teardown(() => stack.close());
  const base = new URL(stack.publicUrl);

  await t.test('an 8 MB answer to a slow reader arrives whole (backpressure, no buffering of the whole body)', async (t) => {
    const body = await new Promise<Buffer>((resolve, reject) => {
      const req = httpRequest({ host: base.hostname, port: base.port, path: '/files/big' }, (res) => {
        t.equal(res.statusCode, 200);
        t.equal(res.headers['content-length'], String(BIG.length));
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          // read slowly at first, so the gateway's socket to the browser fills up
          if (chunks.length < 20) {
            res.pause();
            setTimeout(() => res.resume(), 5);
          }
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    t.equal(body.length, BIG.length);
    t.equal(sha(body), sha(BIG), 'byte for byte');
  });

  await t.test('a 2 MB request body reaches the helpdesk intact', async (t) => {
    const upload = randomBytes(2 * 1024 * 1024);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: base.hostname,
          port: base.port,
          path: '/files/upload',
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', 'content-length': upload.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(upload);
    });
    t.equal(status, 200);
    t.same(helpdesk.uploads, [sha(upload)]);
  });

  await t.test('response header bytes are kept exactly; repeated headers kept; hop-by-hop and Proxy-Authenticate dropped', async (t) => {
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect(Number(base.port), base.hostname, () =>
        socket.write(`GET /files/headers HTTP/1.1\r\nHost: ${base.host}\r\nConnection: close\r\n\r\n`),
      );
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => resolve(Buffer.concat(chunks)));
      socket.on('error', reject);
    });
    const head = raw.subarray(0, raw.indexOf('\r\n\r\n'));
    t.ok(head.includes(Buffer.concat([Buffer.from('Content-Disposition: '), FILENAME_BYTES, Buffer.from('\r\n')])), 'UTF-8 filename bytes unchanged');
    const text = head.toString('latin1');
    t.match(text, /^HTTP\/1\.1 200 /);
    t.match(text, /\r\nSet-Cookie: helpdesk_a=1; Path=\/\r\n/);
    t.match(text, /\r\nSet-Cookie: helpdesk_b=2; Path=\/\r\n/);
    t.notMatch(text, /keep-alive: timeout=99/i, "the helpdesk's Keep-Alive is hop-by-hop");
    t.notMatch(text, /proxy-authenticate/i);
    t.equal(raw.subarray(raw.indexOf('\r\n\r\n') + 4).toString(), 'ok');
  });

  await t.test('a client that goes away ends its upstream request', async (t) => {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: base.hostname, port: base.port, path: '/files/forever' }, (res) => {
        t.equal(res.statusCode, 200);
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.on('close', () => resolve());
      req.end();
      setTimeout(() => reject(new Error('no answer')), 5000).unref();
    });
    const closed = await Promise.race([helpdesk.foreverClosed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000).unref())]);
    t.equal(closed, true, 'the helpdesk saw the upstream request end');
  });
});
