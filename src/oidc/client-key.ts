/**
 * The private key of private_key_jwt (OIDC Core 9): its signing algorithm is
 * taken from the key itself, never guessed from the PEM's size. RFC 7518 3.1
 * names one algorithm per key type and curve; the RSA one is RS256, which every
 * provider that offers private_key_jwt accepts.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export interface ClientAssertionKey {
  key: KeyObject;
  alg: 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';
}

const EC_ALGORITHMS: Record<string, ClientAssertionKey['alg']> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/** Throws an Error whose message says what the key is and what would do. */
export function clientAssertionKey(pem: string | Buffer): ClientAssertionKey {
  const key = createPrivateKey(pem);
  const type = key.asymmetricKeyType;
  if (type === 'rsa' || type === 'rsa-pss') {
    // RFC 7518 3.3: 2048 bits at least (jose refuses shorter keys when it signs)
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new Error(`an RSA key of ${bits} bits is too short to sign a client assertion; use 2048 bits or more`);
    return { key, alg: type === 'rsa' ? 'RS256' : 'PS256' };
  }
  if (type === 'ed25519') return { key, alg: 'EdDSA' };
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
    const alg = EC_ALGORITHMS[curve];
    if (alg) return { key, alg };
    throw new Error(`an EC key on curve ${curve} cannot sign a client assertion; use P-256, P-384 or P-521 (or RSA, or Ed25519)`);
  }
  throw new Error(`a ${type ?? 'unknown'} key cannot sign a client assertion; use an RSA, EC (P-256, P-384, P-521) or Ed25519 key`);
}

const HASH: Record<ClientAssertionKey['alg'], string | null> = {
  RS256: 'sha256',
  PS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
  EdDSA: null,
};

/** `gatehouse check`: sign with the key as a client assertion would, and verify with its public half. Throws if that fails. */
export function proveClientAssertionKey({ key, alg }: ClientAssertionKey): void {
  const data = Buffer.from('gatehouse check: client assertion key');
  const signature = sign(HASH[alg], data, key);
  if (!verify(HASH[alg], data, createPublicKey(key), signature))
    throw new Error(`a signature made with this key (${alg}) does not verify with its own public key`);
}
