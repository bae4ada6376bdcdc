/**
 * The identity headers: which inbound headers are stripped (every header with
 * the identity prefix, whatever its case or count) and how claim values become
 * header values that can never split or corrupt the request upstream.
 */

export interface IdentityHeaderNames {
  realm: string;
  subject: string;
  email: string;
  name: string;
  groups: string;
  assertion: string;
}

export function identityHeaderNames(prefix: string): IdentityHeaderNames {
  const p = prefix.toLowerCase();
  return { realm: `${p}realm`, subject: `${p}subject`, email: `${p}email`, name: `${p}name`, groups: `${p}groups`, assertion: `${p}assertion` };
}

export const MAX_IDENTITY_HEADER_LENGTH = 4096;

/**
 * A claim as a header value: control characters (CR, LF, NUL, DEL, ...) become
 * spaces so no claim can inject a header or a second request; text outside ASCII
 * is sent as its UTF-8 bytes (what Apache and most helpdesks expect); long
 * values are cut. The signed assertion carries the exact claim.
 */
export function toHeaderValue(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this replaces (a header value must not carry CR, LF or NUL)
  let clean = value.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (clean.length > MAX_IDENTITY_HEADER_LENGTH) clean = clean.slice(0, MAX_IDENTITY_HEADER_LENGTH);
  return /[\u0080-\uffff]/.test(clean) ? Buffer.from(clean, 'utf8').toString('latin1') : clean;
}

export interface IdentityFields {
  realm: string;
  sub: string;
  email?: string | undefined;
  name?: string | undefined;
  groups?: readonly string[] | undefined;
}

/** Who a session says the person is, as the identity headers and the assertion both tell the helpdesk (with the provider's sid for the assertion). */
export function identityOf(
  realm: string,
  session: Omit<IdentityFields, 'realm'> & { readonly sid?: string | undefined },
): IdentityFields & { sid?: string | undefined } {
  return { realm, sub: session.sub, email: session.email, name: session.name, groups: session.groups, sid: session.sid };
}

/**
 * The identity headers of one session (without the assertion), computed once per session: one flat
 * list, name, value, name, value, ..., as raw headers are (one array per session in the session cache,
 * not one per header: a third of the memory).
 */
export function buildIdentityHeaders(identity: IdentityFields, names: IdentityHeaderNames): string[] {
  const headers = [names.realm, toHeaderValue(identity.realm), names.subject, toHeaderValue(identity.sub)];
  if (identity.email !== undefined) headers.push(names.email, toHeaderValue(identity.email));
  if (identity.name !== undefined) headers.push(names.name, toHeaderValue(identity.name));
  if (identity.groups !== undefined && identity.groups.length > 0) {
    headers.push(names.groups, toHeaderValue(identity.groups.map((g) => g.replace(/,/g, ' ')).join(',')));
  }
  return headers;
}
