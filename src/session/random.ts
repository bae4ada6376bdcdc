/**
 * Random bytes for values minted on the request path (login attempt state,
 * nonce, PKCE verifier, AES-GCM IVs). Each call into the CSPRNG has a fixed
 * cost that dwarfs a few dozen bytes, and a redirect to the provider needs four
 * such values: they are cut from a pool refilled 4 KB at a time (what Node does
 * for randomUUID). Every slice is handed out once; a refill allocates a new
 * buffer, so no byte is ever given twice.
 */
import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** n fresh random bytes (a view into the pool; its bytes are never handed out again or overwritten). */
export function randomSlice(n: number): Buffer {
  if (n > POOL_BYTES) return randomBytes(n);
  if (offset + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const slice = pool.subarray(offset, offset + n);
  offset += n;
  return slice;
}

/** n random bytes as base64url text (state, nonce, verifier: 32 bytes → 43 characters). */
export function randomText(n: number): string {
  return randomSlice(n).toString('base64url');
}
