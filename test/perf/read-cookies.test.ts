// readCookies (src/edge/cookies.ts) scans the Cookie header instead of
// splitting it; it must read every header exactly as the split version did:
// first cookie of a name wins (RFC 6265 5.4), names and values trimmed, one
// pair of quotes dropped, parts without "=" ignored — and every cookie is read,
// however many (issue 11: a count limit let a sibling subdomain hide ours).
import t from 'tap';
import fc from 'fast-check';
import { readCookies } from '../../src/edge/cookies.js';

function reference(header: string): Record<string, string> {
  const jar: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name.length === 0 || name in jar) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    jar[name] = value;
  }
  return jar;
}

const read = (header: string) => ({ ...readCookies({ cookie: header }) });

t.test('fixed cases', async (t) => {
  const session = `g1.${'A'.repeat(1700)}`;
  const cases = [
    `gatehouse-agent=${session}`,
    `_ga=GA1.2.3; gatehouse-agent=${session}; theme=dark; a="q"; b; =x; gatehouse-agent=second`,
    ';;;',
    'a=1;b=2;',
    ' a = 1 ; b=" x " ;c=""',
    'a==b; c=d=e',
    Array.from({ length: 150 }, (_, i) => `c${i}=${i}`).join('; '),
    'x;y;z=1',
  ];
  for (const header of cases) t.same(read(header), { ...reference(header) }, JSON.stringify(header.slice(0, 60)));
  t.equal(readCookies({ cookie: 'a=1' }).a, '1');
  t.same(Object.keys(read(Array.from({ length: 150 }, (_, i) => `c${i}=${i}`).join(';'))).length, 150, 'no count limit');
  t.equal(
    read(`${Array.from({ length: 1000 }, (_, i) => `c${i}=${i}`).join('; ')}; gatehouse-agent=mine`)['gatehouse-agent'],
    'mine',
    'ours after a thousand others',
  );
  t.same(readCookies({}), {}, 'no header');
});

t.test('any header reads as the split version read it', async () => {
  const piece = fc.constantFrom(';', '=', ' ', '"', 'a', 'b', 'gatehouse-agent', '\t', 'x=1', ';;');
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 60 }).map((parts) => parts.join('')),
      (header) => {
        const got = read(header);
        const want = { ...reference(header) };
        return JSON.stringify(got) === JSON.stringify(want);
      },
    ),
    { numRuns: 3000 },
  );
});
