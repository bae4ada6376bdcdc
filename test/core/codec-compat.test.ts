// session/codec.ts seals with node:crypto, not jose: the result must be the
// standard compact JWE (dir + A256GCM) that jose reads, cookies sealed earlier by
// jose must still open, and anything that is not exactly what we write is refused.
import t from 'tap';
import { createCipheriv, randomBytes } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose';
import { deriveSealKeys, open, seal } from '../../src/session/codec.js';

const keys = deriveSealKeys(['compat-secret-0123456789abcdefghijklmnopqrstuv'], 'session:agent');
const key = keys[0]!;
const payload = { v: 1, id: 'session-1', realm: 'agent', sub: 'alice', claims: { groups: ['a', 'ü'] }, createdAt: 1, seenAt: 2 };
const joseSeal = async (header: Record<string, unknown>, body: unknown = payload): Promise<string> =>
  'g1.' + (await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(body))).setProtectedHeader(header as never).encrypt(key.key));

t.test('what Gatehouse seals is a compact JWE that jose decrypts', async (t) => {
  const sealed = seal(payload, keys);
  const jwe = sealed.slice(3);
  t.same(decodeProtectedHeader(jwe), { alg: 'dir', enc: 'A256GCM', kid: key.kid });
  const { plaintext } = await compactDecrypt(jwe, key.key, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] });
  t.same(JSON.parse(new TextDecoder().decode(plaintext)), payload);
  t.not(seal(payload, keys), sealed, 'a fresh IV every time');
});

/** A correctly encrypted and tagged value under our key, with any header (jose refuses to write some of them). */
const rawSeal = (header: Record<string, unknown>, body: unknown = payload, ivBytes = 12): string => {
  const protectedHeader = Buffer.from(JSON.stringify(header)).toString('base64url');
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(Buffer.from(protectedHeader));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(body)), cipher.final()]);
  return `g1.${protectedHeader}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
};

t.test('a value jose sealed (cookies from before the switch) opens', async (t) => {
  t.same(open(await joseSeal({ alg: 'dir', enc: 'A256GCM', kid: key.kid }), keys), payload);
  t.same(open(await joseSeal({ kid: key.kid, enc: 'A256GCM', alg: 'dir' }), keys), payload, 'header members in another order');
});

t.test('headers we never write are refused, even with a valid tag', async (t) => {
  t.same(open(rawSeal({ alg: 'dir', enc: 'A256GCM', kid: key.kid }), keys), payload, 'the helper below seals what we accept');
  t.equal(open(rawSeal({ alg: 'dir', enc: 'A256GCM', kid: key.kid, crit: ['exp'], exp: 1 }), keys), null, 'crit');
  t.equal(open(rawSeal({ alg: 'dir', enc: 'A256GCM', kid: key.kid, zip: 'DEF' }), keys), null, 'zip');
  t.equal(open(rawSeal({ alg: 'dir', enc: 'A256GCM', kid: key.kid, cty: 'x' }), keys), null, 'an extra member');
  t.equal(open(rawSeal({ alg: 'dir', enc: 'A128GCM', kid: key.kid }), keys), null, 'another enc');
  t.equal(open(rawSeal({ alg: 'none', enc: 'A256GCM', kid: key.kid }), keys), null, 'another alg');
  t.equal(open(rawSeal({ alg: 'dir', enc: 'A256GCM', kid: 'another' }), keys), null, 'an unknown kid');
  t.equal(open(rawSeal({ alg: 'dir', enc: 'A256GCM' }), keys), null, 'no kid');
  t.equal(open(rawSeal({ alg: 'dir', enc: 'A256GCM', kid: key.kid }, 'a string'), keys), null, 'a payload that is not an object');
  t.equal(open(rawSeal({ alg: 'dir', enc: 'A256GCM', kid: key.kid }, null), keys), null, 'null');
  // GCM takes any IV length and this value's tag is right for its 16-byte IV: only the length check refuses it
  t.equal(open(rawSeal({ alg: 'dir', enc: 'A256GCM', kid: key.kid }, payload, 16), keys), null, 'an IV of another length than the 96 bits we write');
});

t.test('only the canonical encoding of a sealed value opens', async (t) => {
  const sealed = seal(payload, keys);
  const parts = sealed.slice(3).split('.');
  t.equal(parts.length, 5);
  t.equal(parts[1], '', 'no encrypted key for dir');
  const withPart = (i: number, text: string): string => 'g1.' + parts.map((p, j) => (j === i ? text : p)).join('.');
  t.same(open(withPart(4, parts[4]!), keys), payload, 'unchanged: opens');
  t.equal(open(withPart(4, parts[4]! + '='), keys), null, 'padding');
  t.equal(open(withPart(3, parts[3]!.slice(0, 10) + '*' + parts[3]!.slice(10)), keys), null, 'a stray character the decoder would skip');
  t.equal(open(withPart(2, parts[2]!.slice(0, 8)), keys), null, 'a short IV');
  t.equal(open(withPart(4, parts[4]!.slice(0, 12)), keys), null, 'a truncated tag');
  t.equal(open(withPart(1, 'AAAA'), keys), null, 'an encrypted key where dir has none');
  t.equal(open(sealed + '.x', keys), null, 'a sixth part');
  // the last character of the tag carries 2 spare bits: other spellings decode to the same bytes
  const tag = parts[4]!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(tag.at(-1)!);
  const sibling = tag.slice(0, -1) + alphabet[last ^ 1];
  t.same(Buffer.from(sibling, 'base64url'), Buffer.from(tag, 'base64url'), 'the sibling spelling decodes to the same tag bytes');
  t.equal(open(withPart(4, sibling), keys), null, 'a non-canonical spelling of the same tag');
});
