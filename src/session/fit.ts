/**
 * A session the browser can send back. It returns at most MAX_CHUNKS cookie
 * chunks: a larger value could never be read again, and the person would be
 * signed out without a word (or sent to sign in again and again). The ID token
 * is kept only as logout's id_token_hint, so it goes first; what is still too
 * large (huge claims) is refused. Used at sign-in and whenever a refresh puts a
 * new ID token and new claims back.
 */
import { CHUNK_SIZE, MAX_CHUNKS } from './codec.js';
import type { SessionData } from './session.js';
import type { SessionStore, StoreRealm } from './store.js';
import type { Logger } from '../observe/log.js';

/** The longest session cookie value the chunks a browser sends back can carry. */
export const MAX_SESSION_VALUE_LENGTH = CHUNK_SIZE * MAX_CHUNKS;

export type FittedSession = { kind: 'saved'; value: string; session: SessionData } | { kind: 'too-large'; length: number };

export async function saveFittingSession(
  store: SessionStore,
  log: Logger,
  realm: StoreRealm,
  session: SessionData,
  lifetimeLeftMs: number,
): Promise<FittedSession> {
  let value = await store.save(realm, session, lifetimeLeftMs);
  if (value.length <= MAX_SESSION_VALUE_LENGTH) return { kind: 'saved', value, session };
  if (session.idToken !== undefined) {
    const slim: SessionData = { ...session, idToken: undefined };
    value = await store.save(realm, slim, lifetimeLeftMs);
    log.warn(
      { realm: realm.name, session: session.id, length: value.length },
      'session too large for the browser with the ID token: the ID token is not kept (logout will not send id_token_hint)',
    );
    if (value.length <= MAX_SESSION_VALUE_LENGTH) return { kind: 'saved', value, session: slim };
  }
  return { kind: 'too-large', length: value.length };
}
