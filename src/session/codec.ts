/**
 * Sealing and opening of everything Gatehouse hands to a browser (session
 * cookies, login-attempt cookies): a compact JWE (`dir` + A256GCM) with a
 * versioned prefix, under keys derived from `session.secret`. A list of secrets
 * rotates: the first seals, all open. Opening never throws: anything that is not
 * a well-formed token sealed by one of our keys for this purpose is `null`
 * ("signed out").
 */
import { hkdfSync, createHash, webcrypto } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose';

const PREFIX = 'g1.';
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** A sealed value larger than this is refused before any parsing (cookie bombs). */
export const MAX_SEALED_LENGTH = 32 * 1024;

export interface SealKey {
  /** short public identifier of the key, sent in the JWE header */
  readonly kid: string;
  readonly key: Uint8Array;
  /**
   * The same key imported into WebCrypto once. Handing jose raw bytes makes it
   * import the key on every seal and open — a third of a sign-in redirect's cost.
   */
  readonly cryptoKey: Promise<CryptoKey>;
}

/**
 * One key per secret and purpose. The purpose (e.g. "session:agent") is part of
 * the derivation, so a value sealed for one realm or use cannot be opened as
 * another: realm isolation does not rest on a claim check alone.
 */
export function deriveSealKeys(secrets: readonly string[], purpose: string): SealKey[] {
  return secrets.map((secret) => {
    const key = new Uint8Array(hkdfSync('sha256', encoder.encode(secret), encoder.encode('gatehouse/v1'), encoder.encode(purpose), 32));
    const kid = createHash('sha256').update(key).digest('base64url').slice(0, 8);
    const cryptoKey = webcrypto.subtle.importKey('raw', key, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    return { kid, key, cryptoKey };
  });
}

export async function seal(payload: unknown, keys: readonly SealKey[]): Promise<string> {
  const current = keys[0];
  if (!current) throw new Error('no sealing key');
  const jwe = await new CompactEncrypt(encoder.encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: current.kid })
    .encrypt(await current.cryptoKey);
  return PREFIX + jwe;
}

/** Returns the payload, or null for anything tampered, truncated, foreign or garbage. */
export async function open<T>(sealed: string | undefined, keys: readonly SealKey[]): Promise<T | null> {
  if (!sealed || sealed.length > MAX_SEALED_LENGTH || !sealed.startsWith(PREFIX)) return null;
  const jwe = sealed.slice(PREFIX.length);
  try {
    const header = decodeProtectedHeader(jwe);
    if (header.alg !== 'dir' || header.enc !== 'A256GCM') return null;
    const key = keys.find((k) => k.kid === header.kid);
    if (!key) return null;
    const { plaintext } = await compactDecrypt(jwe, await key.cryptoKey, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] });
    const value: unknown = JSON.parse(decoder.decode(plaintext));
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
