// Fuzz: return-to validation (http/return-to.ts safeReturnTo), the guard against
// open redirects. For any input, the answer is the fallback, or a path that a
// browser resolves on public_url's origin (it starts with one "/", never "//" or
// "/\", has no control characters or backslashes), or an absolute URL on an
// allowed_redirects origin. The inputs are built from the pieces real open
// redirect payloads are made of, plus arbitrary strings and URLs.
import t from 'tap';
import fc from 'fast-check';
import { safeReturnTo } from '../../src/routing/return-to.js';
import { budget } from './fixtures/budget.js';

const PUBLIC = 'https://helpdesk.example.com';
const ALLOWED = new Set(['https://portal.example.com']);
const FALLBACK = '/agent';
const PIECES = [
  '/',
  '//',
  '\\',
  '/\\',
  '.',
  '..',
  './',
  '../',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '%2e',
  '%2E',
  '%252f',
  '%00',
  '%09',
  '%0a',
  '%0d',
  '%',
  '@',
  ':',
  '#',
  '?',
  '&',
  ';',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u0000',
  '\u3002',
  '\uff0f',
  '\u2215',
  '\u202e',
  'evil.com',
  'helpdesk.example.com',
  'portal.example.com',
  'https:',
  'http:',
  'javascript:',
  'data:',
  'HTTPS:',
  'ftp:',
  PUBLIC,
  'https://portal.example.com',
  'https://evil.com',
  'agent',
  'x',
];
const built = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 8 }).map((parts) => parts.join(''));
const input = fc.oneof(
  built,
  built.map((s) => `/${s}`),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

function browserDestination(location: string): string {
  // a Location header is resolved against the URL of the response that carries it (the callback)
  return new URL(location, `${PUBLIC}/agent/login/authenticate-callback/1?code=x`).origin;
}

t.test('safeReturnTo never leads off public_url or allowed_redirects', async (t) => {
  fc.assert(
    fc.property(input, (raw) => {
      const result = safeReturnTo(raw, PUBLIC, ALLOWED, FALLBACK);
      if (result === FALLBACK) return true;
      if (result.startsWith('/')) {
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the property is that no control character survives
        return !/^\/[/\\]/.test(result) && !/[\\\u0000-\u001f\u007f]/.test(result) && browserDestination(result) === PUBLIC;
      }
      return ALLOWED.has(browserDestination(result)) && ALLOWED.has(new URL(result).origin);
    }),
    budget(20_000),
  );
  t.pass();
});

t.test('what is same-site stays usable', async (t) => {
  const path = fc.webPath().filter((p) => /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/.test(p) && !p.startsWith('//') && !p.includes('/.'));
  fc.assert(
    fc.property(path, (p) => safeReturnTo(p, PUBLIC, ALLOWED, FALLBACK) !== FALLBACK || p.length > 2048),
    budget(3000),
  );
  t.pass();
});
