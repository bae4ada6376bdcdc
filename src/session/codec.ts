/**
 * Sealing and opening of everything Gatehouse hands to a browser (session
 * cookies, login-attempt cookies): a compact JWE (`dir` + A256GCM, RFC 7516)
 * with a versioned prefix, under keys derived from `session.secret`. A list of
 * secrets rotates: the first seals, all open. Opening never throws: anything
 * that is not a well-formed token sealed by one of our keys for this purpose is
 * `null` ("signed out").
 *
 * Why node:crypto and not jose here: this is the one JOSE operation on a
 * request path (every redirect to the provider seals a login attempt; a session
 * cookie not yet in the cache is opened). jose's JWE runs AES-GCM as an
 * asynchronous WebCrypto job, which cost a redirect most of its time; with one
 * fixed algorithm pair and no key management, the compact form is five
 * base64url parts that node:crypto seals synchronously. The output is the same
 * JWE jose writes and reads (test/core/codec-compat.test.ts holds both ways).
 */
import { hkdfSync, createHash, createCipheriv, createDecipheriv } from 'node:crypto';
import { randomSlice } from './random.js';

const PREFIX = 'g1.';
/** A sealed value larger than this is refused before any parsing (cookie bombs). */
export const MAX_SEALED_LENGTH = 32 * 1024;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SealKey {
  /** short public identifier of the key, sent in the JWE header */
  readonly kid: string;
  readonly key: Buffer;
  /**
   * This key's protected header, base64url-encoded once: it is also the AES-GCM
   * additional data, and a value's header is matched against it as a string.
   */
  readonly header: string;
}

/**
 * One key per secret and purpose. The purpose (e.g. "session:agent") is part of
 * the derivation, so a value sealed for one realm or use cannot be opened as
 * another: realm isolation does not rest on a claim check alone.
 */
export function deriveSealKeys(secrets: readonly string[], purpose: string): SealKey[] {
  return secrets.map((secret) => {
    const key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from('gatehouse/v1'), Buffer.from(purpose, 'utf8'), 32));
    const kid = createHash('sha256').update(key).digest('base64url').slice(0, 8);
    const header = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid })).toString('base64url');
    return { kid, key, header };
  });
}

export function seal(payload: unknown, keys: readonly SealKey[]): string {
  const current = keys[0];
  if (!current) throw new Error('no sealing key');
  const iv = randomSlice(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', current.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(current.header, 'latin1'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
  // header . (no encrypted key for `dir`) . iv . ciphertext . tag
  return `${PREFIX}${current.header}..${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
}

/** base64url text to bytes, or null unless it is the one canonical encoding of them (no padding, no stray characters). */
function strictBase64url(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

/** Which of our keys a protected header names: its exact text, or (written by another encoder) exactly alg, enc and kid. */
function keyForHeader(header: string, keys: readonly SealKey[]): SealKey | null {
  for (const key of keys) if (key.header === header) return key;
  const bytes = strictBase64url(header);
  if (bytes === null || bytes.length > 256) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const h = parsed as Record<string, unknown>;
  // anything more (crit, zip, another alg) is not a value we sealed
  if (Object.keys(h).length !== 3 || h.alg !== 'dir' || h.enc !== 'A256GCM' || typeof h.kid !== 'string') return null;
  return keys.find((k) => k.kid === h.kid) ?? null;
}

/** Returns the payload, or null for anything tampered, truncated, foreign or garbage. */
export function open<T>(sealed: string | undefined, keys: readonly SealKey[]): T | null {
  if (!sealed || sealed.length > MAX_SEALED_LENGTH || !sealed.startsWith(PREFIX)) return null;
  const parts = sealed.slice(PREFIX.length).split('.');
  if (parts.length !== 5 || parts[1] !== '') return null;
  const [header, , ivText, ciphertextText, tagText] = parts as [string, string, string, string, string];
  const key = keyForHeader(header, keys);
  if (key === null) return null;
  const iv = strictBase64url(ivText);
  const ciphertext = strictBase64url(ciphertextText);
  const tag = strictBase64url(tagText);
  if (iv === null || iv.length !== IV_BYTES || ciphertext === null || tag === null || tag.length !== TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(header, 'latin1'));
    decipher.setAuthTag(tag);
    // final() throws unless the tag authenticates header, iv and ciphertext under this key
    const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    const value: unknown = JSON.parse(plaintext.toString('utf8'));
    return value !== null && typeof value === 'object' ? (value as T) : null;
  } catch {
    return null;
  }
}

/** Browsers keep about 4 KB per cookie (name + value + attributes). */
export const CHUNK_SIZE = 3500;
export const MAX_CHUNKS = 8;

/** Split a sealed value into cookie-sized chunks: name, name.1, name.2, ... */
export function splitIntoChunks(name: string, value: string): Array<[string, string]> {
  const chunks: Array<[string, string]> = [];
  for (let i = 0, n = 0; i < value.length; i += CHUNK_SIZE, n++) {
    chunks.push([n === 0 ? name : `${name}.${n}`, value.slice(i, i + CHUNK_SIZE)]);
  }
  return chunks;
}

/**
 * Reassemble chunks in order until the first missing one. A missing, truncated
 * or reordered chunk yields a value that fails to open: signed out, not an error.
 */
export function joinChunks(cookies: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const first = cookies[name];
  if (first === undefined) return undefined;
  let value = first;
  for (let n = 1; n < MAX_CHUNKS; n++) {
    const next = cookies[`${name}.${n}`];
    if (next === undefined) break;
    value += next;
  }
  return value;
}

/** Names of chunk cookies present in the request beyond what a new value needs (to be cleared). */
export function staleChunkNames(cookies: Readonly<Record<string, string | undefined>>, name: string, keep: number): string[] {
  const stale: string[] = [];
  for (let n = Math.max(keep, 0); n < MAX_CHUNKS; n++) {
    const chunkName = n === 0 ? name : `${name}.${n}`;
    if (cookies[chunkName] !== undefined) stale.push(chunkName);
  }
  return stale;
}
