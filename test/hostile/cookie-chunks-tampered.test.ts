// A session large enough to be split into cookie chunks (gatehouse-agent,
// gatehouse-agent.1, ...) is tampered with in the browser: a character changed
// in any chunk, a chunk truncated, dropped, duplicated, reordered, an extra chunk
// appended, chunks beyond the limit, a cookie bomb. Every variant must be
// "signed out" — 401 for a script, the chunk cookies cleared — never a 500,
// never another session, and nothing forwarded.
import t from 'tap';
import { startHostileStack, signInVia, fetchAsScript } from '../helpers/hostile-provider.js';
import { CookieJar } from '../helpers/browserless.js';
import { fetchWithJar } from '../helpers/browserless.js';

t.test('tampered or truncated cookie chunks', async (t) => {
  const stack = await startHostileStack({ editYaml: (y) => y.replace('limits:\n', 'limits:\n  max_header_bytes: 65536\n') });
  t.teardown(() => stack.close());
  stack.provider.forgeIdToken = (ctx) => ctx.sign({ ...ctx.claims, padding: 'p'.repeat(6000) });
  const { jar } = await signInVia(stack);
  const chunks = jar
    .all(stack.publicUrl)
    .filter((c) => /^gatehouse-agent(\.\d+)?$/.test(c.name))
    .sort((a, b) => a.name.localeCompare(b.name));
  t.ok(chunks.length >= 3, `the session is split into ${chunks.length} chunks`);
  t.equal((await fetchAsScript(stack, '/agent/', jar)).status, 200, 'untouched, it works');
  const forwarded = stack.upstream.requests.length;

  const send = async (label: string, pairs: Array<[string, string]>): Promise<void> => {
    const header = pairs.map(([n, v]) => `${n}=${v}`).join('; ');
    const answer = await fetchWithJar(`${stack.publicUrl}/agent/`, { jar: new CookieJar(), headers: { accept: 'application/json', cookie: header } });
    t.equal(answer.status, 401, `${label}: signed out`);
    const cleared = [answer.headers['set-cookie']].flat().filter((l): l is string => typeof l === 'string');
    if (pairs.some(([n]) => n === 'gatehouse-agent'))
      t.ok(
        cleared.some((l) => l.startsWith('gatehouse-agent=;')),
        `${label}: chunks cleared`,
      );
  };
  const original: Array<[string, string]> = chunks.map((c) => [c.name, c.value]);
  // flip the top bit of the character's 6: the low bits of a value's last base64url character
  // can be padding that decodes to the same bytes (then the very same session opens, rightly)
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const flip = (s: string, i: number): string => s.slice(0, i) + (B64.includes(s[i]!) ? B64[(B64.indexOf(s[i]!) + 32) % 64] : 'A') + s.slice(i + 1);
  for (let n = 0; n < original.length; n++) {
    const value = original[n]![1];
    for (const i of [0, 3, Math.floor(value.length / 2), value.length - 1]) {
      await send(
        `chunk ${n}, char ${i} changed`,
        original.map(([name, v], k) => [name, k === n ? flip(v, i) : v]),
      );
    }
    await send(
      `chunk ${n} truncated by one`,
      original.map(([name, v], k) => [name, k === n ? v.slice(0, -1) : v]),
    );
    await send(
      `chunk ${n} emptied`,
      original.map(([name, v], k) => [name, k === n ? '' : v]),
    );
    await send(
      `chunk ${n} dropped`,
      original.filter((_, k) => k !== n),
    );
  }
  await send(
    'chunks reordered',
    original.map(([name], k) => [name, original[(k + 1) % original.length]![1]]),
  );
  await send(
    'first chunk duplicated into the second',
    original.map(([name, v], k) => [name, k === 1 ? original[0]![1] : v]),
  );
  await send('an extra chunk appended', [...original, [`gatehouse-agent.${original.length}`, 'AAAA']]);
  await send('an extra chunk of real-looking data', [...original, [`gatehouse-agent.${original.length}`, original[1]![1]]]);
  await send('only the first chunk', [original[0]!]);
  await send('chunks only, no first', original.slice(1));
  await send('a cookie bomb (40 KB)', [['gatehouse-agent', 'g1.'.concat('A'.repeat(40_000))]]);
  await send('not our format', [['gatehouse-agent', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.']]);
  await send(
    'quoted value',
    original.map(([name, v]) => [name, `"${v}"x`]),
  );
  t.equal(stack.upstream.requests.length, forwarded, 'nothing was forwarded');

  // a duplicate of the whole set, placed after the real one, changes nothing (first cookie of a name wins)
  const dup = await fetchWithJar(`${stack.publicUrl}/agent/`, {
    jar: new CookieJar(),
    headers: { accept: 'application/json', cookie: [...original, ...original.map(([n]) => [n, 'junk'])].map(([n, v]) => `${n}=${v}`).join('; ') },
  });
  t.equal(dup.status, 200, 'the first cookie of each name is the one read');
});
