/**
 * "Port already in use" in words instead of a stack trace: which address and
 * port, which process holds it when this machine can tell (Linux /proc, own
 * processes only), and how to choose another. Best effort: any failure to look
 * simply leaves the holder out.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** true for the listen errors an operator fixes by choosing another port or address */
export function isListenError(error: unknown): error is NodeJS.ErrnoException & { port?: number; address?: string } {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL';
}

/** `process 1234 (node)`, or undefined when it cannot be told */
export function portHolder(port: number): string | undefined {
  try {
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text: string;
      try {
        text = readFileSync(table, 'utf8');
      } catch {
        continue;
      }
      for (const row of text.split('\n').slice(1)) {
        const cols = row.trim().split(/\s+/);
        // local_address is HEXADDR:HEXPORT; state 0A is LISTEN; column 9 is the socket's inode
        if (cols.length > 9 && cols[3] === '0A' && parseInt(cols[1]!.split(':')[1]!, 16) === port) inodes.add(cols[9]!);
      }
    }
    if (inodes.size === 0) return undefined;
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue; // another user's process
      }
      for (const fd of fds) {
        let target = '';
        try {
          target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode !== undefined && inodes.has(inode)) {
          const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
          return `process ${pid} (${name})`;
        }
      }
    }
  } catch {
    /* best effort */
  }
  return undefined;
}

/** The sentence for a listen error; `howToChoose` says where the port is set. */
export function describeListenError(
  error: NodeJS.ErrnoException & { port?: number; address?: string },
  fallback: { host: string; port: number },
  howToChoose: string,
): string {
  const port = error.port ?? fallback.port;
  const host = error.address ?? fallback.host;
  if (error.code === 'EADDRINUSE') {
    const holder = portHolder(port);
    return `port ${port} on ${host} is already in use${holder ? ` by ${holder}` : ''}: stop that, or ${howToChoose}`;
  }
  if (error.code === 'EACCES') return `not allowed to listen on port ${port} on ${host} (ports below 1024 need privileges): ${howToChoose}`;
  return `cannot listen on ${host}:${port}: the address is not one of this machine's; set listen.host to one of its addresses, or 0.0.0.0`;
}
