/**
 * How the gateway proves it is the realm's client at the token endpoint:
 * client_secret_basic (RFC 6749 2.3.1), client_secret_post, or private_key_jwt
 * (OIDC Core 9, RFC 7523) with a short-lived assertion per request.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, type CryptoKey, type KeyObject } from 'jose';
import type { ClientAuthMethod } from '../config/types.js';

export interface ClientCredentials {
  clientId: string;
  method: ClientAuthMethod;
  clientSecret?: string | undefined;
  /** private_key_jwt only */
  privateKey?: { key: CryptoKey | KeyObject; alg: string; kid?: string | undefined } | undefined;
}

/** RFC 6749 2.3.1: id and secret are form-urlencoded before base64 */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

export async function applyClientAuth(
  credentials: ClientCredentials,
  tokenEndpoint: string,
  form: URLSearchParams,
  headers: Record<string, string>,
): Promise<void> {
  switch (credentials.method) {
    case 'client_secret_basic': {
      const pair = `${formEncode(credentials.clientId)}:${formEncode(credentials.clientSecret ?? '')}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
      return;
    }
    case 'client_secret_post':
      form.set('client_id', credentials.clientId);
      form.set('client_secret', credentials.clientSecret ?? '');
      return;
    case 'private_key_jwt': {
      const key = credentials.privateKey;
      if (!key) throw new Error('private_key_jwt without a private key');
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: key.alg, ...(key.kid ? { kid: key.kid } : {}) })
        .setIssuer(credentials.clientId)
        .setSubject(credentials.clientId)
        .setAudience(tokenEndpoint)
        .setJti(randomBytes(16).toString('base64url'))
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(key.key);
      form.set('client_id', credentials.clientId);
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set('client_assertion', assertion);
      return;
    }
  }
}
