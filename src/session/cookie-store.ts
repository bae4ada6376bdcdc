/** The stateless store: the sealed session is the cookie. */
import { open, seal } from './codec.js';
import { isSessionData, type SessionData } from './session.js';
import type { SessionStore, StoreRealm } from './store.js';

export function createCookieStore(): SessionStore {
  return {
    kind: 'cookie',
    // a cookie value always opens to the same session; revocation is checked separately
    recheckMs: Number.POSITIVE_INFINITY,
    async load(realm: StoreRealm, cookieValue: string): Promise<SessionData | null> {
      const value = open<unknown>(cookieValue, realm.sealKeys);
      return isSessionData(value, realm.name) ? value : null;
    },
    async save(realm: StoreRealm, data: SessionData): Promise<string> {
      return seal(data, realm.sealKeys);
    },
    // Nothing is stored server-side; the revocation list covers copies of the cookie.
    async destroy(): Promise<void> {},
    async ready(): Promise<boolean> {
      return true;
    },
    async close(): Promise<void> {},
  };
}
