// Full sign-ins per second through the callback: token exchange, ID token
// validation and the session seal, against the same provider for Gatehouse and
// mod_auth_openidc. The part before the callback (redirect to the provider, the
// provider's own login) is done beforehand for every attempt and not timed:
// each attempt gets its own browser holding the provider's session, so the
// provider answers the authorization request at once with a fresh code.
import { Jar, follow, send, signIn } from './browser.mjs';
import { cpuSeconds } from './procs.mjs';

const NAVIGATION = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };

/**
 * o.pid: the server's process (its tree's CPU time during the timed callbacks is reported per sign-in)
 * @param {{name:string,pid?:number,startUrl:string,callbackPrefix:string,providerOrigin:string,account:{username:string,password:string},attempts:number,concurrency:number,isSignedIn:(res:any)=>boolean}} o
 */
export async function measureSignIns(o) {
  // one real sign-in: the provider now knows this browser
  const first = await signIn(o.startUrl, o.account);
  if (first.res.status !== 200) throw new Error(`${o.name}: first sign-in ended with ${first.res.status} at ${first.res.url}`);
  const providerJar = first.jar.only(o.providerOrigin);

  // prepare: one login attempt per sign-in, stopped right before its callback
  const prepared = [];
  const prepStarted = Date.now();
  while (prepared.length < o.attempts) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(16, o.attempts - prepared.length) }, async () => {
        const jar = new Jar();
        jar.cookies = providerJar.cookies.map((c) => ({ ...c }));
        const { next } = await follow(o.startUrl, { jar, stop: (url) => url.startsWith(o.callbackPrefix) });
        if (!next) throw new Error(`${o.name}: the provider did not redirect to the callback`);
        return { jar, callbackUrl: next };
      }),
    );
    prepared.push(...batch);
  }
  const prepMs = Date.now() - prepStarted;

  // timed: the callbacks, `concurrency` at a time
  let index = 0;
  let ok = 0;
  const failures = {};
  const latencies = [];
  const cpuBefore = o.pid ? cpuSeconds(o.pid) : 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (index < prepared.length) {
        const { jar, callbackUrl } = prepared[index++];
        const t0 = process.hrtime.bigint();
        const res = await send(callbackUrl, { jar, headers: NAVIGATION });
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (o.isSignedIn(res)) ok++;
        else failures[res.status] = (failures[res.status] ?? 0) + 1;
      }
    }),
  );
  const ended = process.hrtime.bigint();
  const seconds = Number(ended - started) / 1e9;
  const cpuMsPerSignIn = o.pid ? ((cpuSeconds(o.pid) - cpuBefore) * 1000) / prepared.length : undefined;
  latencies.sort((a, b) => a - b);
  return {
    name: o.name,
    attempts: prepared.length,
    ok,
    failures,
    perSecond: ok / seconds,
    cpuMsPerSignIn,
    /** the timed window on the monotonic clock (µs), as a CPU profile's timestamps are */
    windowUs: [Number(started / 1000n), Number(ended / 1000n)],
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))],
    prepMs,
  };
}
