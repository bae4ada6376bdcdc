// Ports for servers that cannot listen on port 0 and report it (redis-server,
// nginx) or whose port must be known before they start (a gateway cluster's
// public_url): a port outside the kernel's ephemeral range, so no `listen(0)`
// and no outgoing connection in any test can be given it, claimed with a lock
// file that other test files (run in parallel) respect. A lock is released by
// release(), or taken over once the process that holds it is gone.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCKS = join(tmpdir(), 'gatehouse-test-ports');

/** Ports above 1024 the kernel never hands out for port 0 or outgoing connections. */
function portsOutsideEphemeralRange(): [number, number] {
  let low = 32768;
  let high = 60999;
  try {
    [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];
  } catch {
    /* not Linux: its default range */
  }
  return low - 1024 >= 65535 - high ? [1024, low - 1] : [high + 1, 65535];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claim a port for this process: a lock file per port, taken over only from a process that is gone. */
export function claimPort(): { port: number; release(): void } {
  mkdirSync(LOCKS, { recursive: true });
  const [from, to] = portsOutsideEphemeralRange();
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = randomInt(from, to + 1);
    const file = join(LOCKS, String(port));
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return { port, release: () => rmSync(file, { force: true }) };
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(file, 'utf8'));
      } catch {
        /* released meanwhile */
      }
      if (owner && !alive(owner)) rmSync(file, { force: true }); // left by a test run that was killed: free for a later attempt
    }
  }
  throw new Error(`no free port to claim in ${LOCKS}`);
}

