/**
 * X-Auth-Assertion: a short-lived JWT the helpdesk can verify with the gateway's
 * published JWKS (/.gatehouse/jwks.json), so it need not trust headers alone.
 * The key is imported (or generated) once at start; a session reuses its
 * assertion until it is close to expiry, so requests do not pay a signature.
 */
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importPKCS8, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { SigningAlg } from '../config/types.js';
import type { IdentityFields } from './headers.js';

export interface AssertionSigner {
  readonly alg: SigningAlg;
  readonly kid: string | undefined;
  /** the public JWKS (empty for HS256: the helpdesk shares the secret instead) */
  readonly jwks: { keys: JWK[] };
  /** true when the key was generated at start (development only) */
  readonly generated: boolean;
  sign(identity: IdentityFields & { sid?: string | undefined }, now: number): Promise<string>;
}

export interface SignerOptions {
  alg: SigningAlg;
  keyFile?: string | undefined;
  /** PEM given directly (cluster workers share the primary's generated key this way) */
  keyPem?: string | undefined;
  secret?: string | undefined;
  issuer: string;
  audience: string;
  ttlMs: number;
}

/** A PKCS#8 PEM for a new key: used when no key_file is configured. */
export async function generateSigningKeyPem(alg: Exclude<SigningAlg, 'HS256'>): Promise<string> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  return exportPKCS8(privateKey);
}

export async function createAssertionSigner(options: SignerOptions): Promise<AssertionSigner> {
  let key: CryptoKey | Uint8Array;
  let kid: string | undefined;
  let jwks: { keys: JWK[] } = { keys: [] };
  let generated = false;
  if (options.alg === 'HS256') {
    if (!options.secret) throw new Error('identity.signing.secret is required for HS256');
    key = new TextEncoder().encode(options.secret);
  } else {
    let pem = options.keyPem;
    if (!pem && options.keyFile) pem = readFileSync(options.keyFile, 'utf8');
    if (!pem) {
      pem = await generateSigningKeyPem(options.alg);
      generated = true;
    }
    const privateKey = await importPKCS8(pem, options.alg, { extractable: true });
    key = privateKey;
    const publicJwk = await exportJWK(privateKey);
    // keep only the public members
    delete publicJwk.d;
    delete publicJwk.p;
    delete publicJwk.q;
    delete publicJwk.dp;
    delete publicJwk.dq;
    delete publicJwk.qi;
    kid = await calculateJwkThumbprint(publicJwk);
    jwks = { keys: [{ ...publicJwk, kid, alg: options.alg, use: 'sig' }] };
  }
  const ttlSec = Math.max(1, Math.round(options.ttlMs / 1000));
  return {
    alg: options.alg,
    kid,
    jwks,
    generated,
    sign(identity, now) {
      const iat = Math.floor(now / 1000);
      const claims: Record<string, unknown> = { realm: identity.realm };
      if (identity.email !== undefined) claims.email = identity.email;
      if (identity.name !== undefined) claims.name = identity.name;
      if (identity.groups !== undefined) claims.groups = identity.groups;
      if (identity.sid !== undefined) claims.sid = identity.sid;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: options.alg, typ: 'JWT', ...(kid ? { kid } : {}) })
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setSubject(identity.sub)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSec)
        .sign(key);
    },
  };
}
