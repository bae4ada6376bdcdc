// Ports for servers that cannot listen on port 0 and report it (redis-server,
// nginx, Apache) or whose port must be known before they start (a gateway whose
// public_url the provider registers), for the tests (through
// test/helpers/ports.ts) and the bench alike. A port picked by listening on 0
// and closing again can be handed to someone else before the server binds it; a
// claimed port cannot: it lies outside the kernel's ephemeral range (no
// listen(0) and no outgoing connection is ever given it) and is held by a lock
// file that every other test file and bench on the machine respects. A claim is
// released by release() or when this process exits; a lock left by a process
// that is gone is taken over. Plain JavaScript, so that the bench runs it
// without a build.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCKS = join(tmpdir(), 'gatehouse-test-ports');
const held = new Set();
process.once('exit', () => {
  for (const file of held) rmSync(file, { force: true });
});

/** The larger stretch of ports above 1024 that the kernel never hands out on its own. */
function portsOutsideEphemeralRange() {
  let low = 32768;
  let high = 60999;
  try {
    [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  } catch {
    // not Linux: its default range
  }
  return low - 1024 >= 65535 - high ? [1024, low - 1] : [high + 1, 65535];
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** A port on loopback for this process alone, until release() or its exit. */
export function claimPort() {
  mkdirSync(LOCKS, { recursive: true });
  const [from, to] = portsOutsideEphemeralRange();
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = randomInt(from, to + 1);
    const file = join(LOCKS, String(port));
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      held.add(file);
      return {
        port,
        release() {
          held.delete(file);
          rmSync(file, { force: true });
        },
      };
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(file, 'utf8'));
      } catch {
        // released meanwhile
      }
      if (owner && !alive(owner)) rmSync(file, { force: true }); // left by a run that was killed: free for a later attempt
    }
  }
  throw new Error(`no free port to claim in ${LOCKS}`);
}
