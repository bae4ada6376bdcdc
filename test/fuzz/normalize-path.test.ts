// Fuzz: path normalization (http/realm.ts normalizePath), which decides the realm
// of every request and the path the helpdesk receives. For any raw path the
// answer is null (refused) or a path that: starts with one "/", has no empty,
// "." or ".." segment even after one more percent-decoding (what the helpdesk
// does), contains no backslash, control character or encoded slash/backslash,
// and is a fixed point (normalizing it again changes nothing). Realm selection
// on what the gateway forwards is the one the helpdesk makes on what it parses:
// nginx's $uri (fragment cut, percent-decoded once, slashes merged, dot segments
// resolved — checked against nginx 1.22 in test/hostile/realm-crossing-nginx.test.ts)
// and the same with ";parameters" cut from each segment, as servlet containers do.
import t from 'tap';
import fc from 'fast-check';
import { hasFragment, hasPathParameters, normalizePath, RealmTable, withoutPathParameters } from '../../src/routing/realm.js';
import { budget } from './fixtures/budget.js';

const PIECES = [
  '/',
  '//',
  '.',
  '..',
  '..;',
  ';x',
  '%3B',
  '%23',
  '%2e',
  '%2E',
  '%2e%2e',
  '.%2e',
  '%2f',
  '%2F',
  '%5c',
  '%00',
  '%0a',
  '%',
  '%zz',
  '%25',
  '%252e',
  '\\',
  ';',
  '%3b',
  'agent',
  'AGENT',
  '%61gent',
  'user',
  'x',
  ' ',
  '\t',
  '?',
  '#',
  '~',
  '%7e',
  '%C3%A9',
  'é',
  '@',
];
const raw = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 10 }).map((p) => `/${p.join('')}`),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.webPath(),
);

function decodeOnce(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

t.test('normalizePath answers null or a clean fixed point', async (t) => {
  fc.assert(
    fc.property(raw, (input) => {
      const out = normalizePath(input);
      if (out === null) return true;
      if (!out.startsWith('/') || out.startsWith('//')) return false;
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the property is that no control character survives
      if (/[\\\u0000-\u001f\u007f]/.test(out) || /%(2f|5c|00)/i.test(out)) return false;
      const segments = decodeOnce(out).split('/').slice(1);
      if (segments.some((s, i) => s === '.' || s === '..' || (s === '' && i < segments.length - 1))) return false;
      return normalizePath(out) === out;
    }),
    budget(20_000),
  );
  t.pass();
});

/** The gateway's decision on a raw path (front.ts route): null when refused, else the path it forwards. */
function forwarded(input: string, table: RealmTable<string>): string | null {
  if (hasFragment(input)) return null;
  const out = normalizePath(input);
  if (out === null) return null;
  if (hasPathParameters(out) && table.match(withoutPathParameters(out)) !== table.match(out)) return null;
  return out;
}

/** Dot segments resolved and empty segments merged, as nginx and servlet containers do after decoding. */
function resolveDots(path: string): string {
  const out: string[] = [];
  const segments = path.split('/').slice(1);
  for (const [i, s] of segments.entries()) {
    if (s === '..') out.pop();
    else if (s !== '.' && (s !== '' || i === segments.length - 1)) out.push(s);
  }
  return `/${out.join('/')}`;
}

/** What nginx routes by ($uri) when the gateway forwards `path`. */
function nginxUri(path: string): string {
  const hash = path.indexOf('#');
  return resolveDots(decodeOnce(hash < 0 ? path : path.slice(0, hash)));
}

/** The same, read by a servlet container behind nginx: ";parameters" cut from every segment. */
function servletPath(uri: string): string {
  return resolveDots(
    uri
      .split('/')
      .map((s) => s.split(';')[0])
      .join('/'),
  );
}

t.test('the realm is the one the helpdesk reads from what it is sent', async (t) => {
  const table = new RealmTable([
    { paths: ['/agent'], realm: 'agent' },
    { paths: ['/'], realm: 'user' },
  ]);
  fc.assert(
    fc.property(raw, (input) => {
      const out = forwarded(input, table);
      if (out === null) return true;
      const realm = table.match(out);
      const uri = nginxUri(out);
      return table.match(uri) === realm && table.match(servletPath(uri)) === realm;
    }),
    budget(20_000),
  );
  t.pass();
});

t.test('the oracle sees the crossings the gateway refuses', async (t) => {
  // without the refusals, these reach the helpdesk under the user realm and are /agent to it
  const table = new RealmTable([
    { paths: ['/agent'], realm: 'agent' },
    { paths: ['/'], realm: 'user' },
  ]);
  for (const input of ['/agent#x', '/agent;x', '/agent;/', '/agent%3Bx', '/x/..;/agent', '/;x/agent']) {
    const out = normalizePath(input)!;
    t.equal(table.match(out), 'user', `${input}: the gateway's prefix match alone says user`);
    const uri = nginxUri(out);
    t.ok(table.match(uri) === 'agent' || table.match(servletPath(uri)) === 'agent', `${input}: the helpdesk reads /agent`);
    t.equal(forwarded(input, table), null, `${input}: refused`);
  }
});
