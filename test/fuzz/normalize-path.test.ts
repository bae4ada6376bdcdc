// Fuzz: path normalization (http/realm.ts normalizePath), which decides the realm
// of every request and the path the helpdesk receives. For any raw path the
// answer is null (refused) or a path that: starts with one "/", has no empty,
// "." or ".." segment even after one more percent-decoding (what the helpdesk
// does), contains no backslash, control character or encoded slash/backslash,
// and is a fixed point (normalizing it again changes nothing). Realm selection
// on the result is the same whatever spelling led there.
import t from 'tap';
import fc from 'fast-check';
import { normalizePath, RealmTable } from '../../src/http/realm.js';
import { budget } from './fixtures/budget.js';

const PIECES = ['/', '//', '.', '..', '%2e', '%2E', '%2e%2e', '.%2e', '%2f', '%2F', '%5c', '%00', '%0a', '%', '%zz', '%25', '%252e', '\\', ';', '%3b', 'agent', 'AGENT', '%61gent', 'user', 'x', ' ', '\t', '?', '#', '~', '%7e', '%C3%A9', 'é', '@'];
const raw = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 10 }).map((p) => `/${p.join('')}`),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.webPath(),
);

function decodeOnce(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

t.test('normalizePath answers null or a clean fixed point', async (t) => {
  fc.assert(fc.property(raw, (input) => {
    const out = normalizePath(input);
    if (out === null) return true;
    if (!out.startsWith('/') || out.startsWith('//')) return false;
    // eslint-disable-next-line no-control-regex
    if (/[\\\u0000-\u001f\u007f]/.test(out) || /%(2f|5c|00)/i.test(out)) return false;
    const segments = decodeOnce(out).split('/').slice(1);
    if (segments.some((s, i) => s === '.' || s === '..' || (s === '' && i < segments.length - 1))) return false;
    return normalizePath(out) === out;
  }), budget(20_000));
  t.pass();
});

t.test('realm selection does not depend on the spelling', async (t) => {
  const table = new RealmTable([{ paths: ['/agent'], realm: 'agent' }, { paths: ['/'], realm: 'user' }]);
  fc.assert(fc.property(raw, (input) => {
    const out = normalizePath(input);
    if (out === null) return true;
    const realm = table.match(out);
    // anything whose decoded form is under /agent must be the agent realm
    const decoded = decodeOnce(out).toLowerCase();
    const underAgent = decoded === '/agent' || decoded.startsWith('/agent/');
    return underAgent ? realm === 'agent' : true;
  }), budget(20_000));
  t.pass();
});
