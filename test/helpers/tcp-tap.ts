// A pass-through TCP relay that records what one side sent: put between a
// proxy and Gatehouse, it shows the question exactly as the proxy wrote it on
// the wire (headers, spelling, duplicates), which Gatehouse's own view of the
// parsed request would hide. Connections are relayed byte for byte; Gatehouse
// still sees 127.0.0.1 as its peer.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpTap {
  /** host:port to connect to instead of `target` */
  address: string;
  /** every byte the clients sent, per connection, in order of arrival */
  sent(): string[];
  /** every value of header `name` the clients sent (case-insensitive), in order of arrival */
  headerValues(name: string): string[];
  close(): Promise<void>;
}

export async function startTcpTap(target: string): Promise<TcpTap> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const connections: Array<{ text: string }> = [];
  // header values in order of arrival across connections: a value is recorded when its line is complete
  const values: Array<{ name: string; value: string }> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const record = { text: '' };
    connections.push(record);
    let line = '';
    const upstream = connect({ host, port });
    sockets.add(client).add(upstream);
    for (const s of [client, upstream])
      s.on('close', () => sockets.delete(s)).on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      record.text += text;
      line += text;
      for (let end = line.indexOf('\r\n'); end >= 0; end = line.indexOf('\r\n')) {
        const complete = line.slice(0, end);
        line = line.slice(end + 2);
        const colon = complete.indexOf(':');
        if (colon > 0) values.push({ name: complete.slice(0, colon).toLowerCase(), value: complete.slice(colon + 1).trim() });
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent: () => connections.map((c) => c.text),
    headerValues: (name) => values.filter((v) => v.name === name.toLowerCase()).map((v) => v.value),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
