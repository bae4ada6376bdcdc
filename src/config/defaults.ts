/**
 * Facts about a realm's configuration that more than one place needs — the
 * loader's checks, the runtime, `gatehouse check` — written once here. (The
 * defaults of single keys live in schema.ts, next to their key.)
 */

/** "<first path>/logout": the sign-out path of a realm that names none; undefined while the realm has no paths (an invalid file). */
export function logoutPathOf(realm: { readonly logout_path?: string | undefined; readonly paths?: readonly string[] | undefined }): string | undefined {
  if (realm.logout_path !== undefined) return realm.logout_path;
  const first = realm.paths?.[0];
  return first === undefined ? undefined : `${first.replace(/\/+$/, '')}/logout`;
}

/** Where the browser lands after sign-out, as written (a path or a URL): post_logout_redirect, else the realm's first path. */
export function postLogoutLandingOf(realm: { readonly post_logout_redirect?: string | undefined; readonly paths: readonly string[] }): string {
  return realm.post_logout_redirect ?? realm.paths[0] ?? '/';
}

/** Authorization parameters the gateway sets itself: extra_auth_params may not override them, they carry the security of the flow. */
export const RESERVED_AUTHORIZATION_PARAMS: ReadonlySet<string> = new Set([
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'response_mode',
]);
