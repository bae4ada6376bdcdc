/**
 * The one schema of gateway.yaml. Everything about a key — its type, range,
 * default, whether it is a secret, and the sentence that explains it — is
 * written once here. From it come (a) `checkDocument` (schema-check.ts), which walks the parsed
 * YAML (keeping positions), rejects unknown keys and fills defaults, and
 * (b) the published JSON Schema and docs/configuration.md (emit-schema.ts), and
 * (c) the config's TypeScript type (types.ts: TypeOf the schema).
 * Checks that relate two keys, or need URL/IP parsing, live in validate.ts.
 */
// ---------------------------------------------------------------- the DSL

export type Presence = 'required' | 'default' | 'optional';

interface Common<T, P extends Presence> {
  readonly description: string;
  readonly presence: P;
  /** phantom: the TypeScript type this key produces */
  readonly _type?: T;
}
export interface StringNode<P extends Presence = Presence> extends Common<string, P> {
  readonly kind: 'string';
  readonly default?: string;
  readonly pattern?: RegExp;
  /** what `pattern` asks for, as the end of "must be …" */
  readonly patternHint?: string;
  /** default 1: an empty string (often an empty ${VAR}) is refused */
  readonly minLength?: number;
  /** never echoed in a problem */
  readonly secret?: boolean;
}
export interface EnumNode<V extends string = string, P extends Presence = Presence> extends Common<V, P> {
  readonly kind: 'enum';
  readonly values: readonly V[];
  readonly default?: V;
}
export interface IntNode<P extends Presence = Presence> extends Common<number, P> {
  readonly kind: 'int';
  readonly min: number;
  readonly max: number;
  readonly default?: number;
}
/** an integer, or the word `auto` (the program works the number out) */
export interface IntOrAutoNode<P extends Presence = Presence> extends Common<number | 'auto', P> {
  readonly kind: 'int-or-auto';
  readonly min: number;
  readonly max: number;
  readonly default?: number | 'auto';
}
/** a number with a fraction allowed (a ratio, a share) */
export interface NumberNode<P extends Presence = Presence> extends Common<number, P> {
  readonly kind: 'number';
  readonly min: number;
  readonly max: number;
  readonly default?: number;
}
export interface BooleanNode<P extends Presence = Presence> extends Common<boolean, P> {
  readonly kind: 'boolean';
  readonly default?: boolean;
}
export interface DurationNode<P extends Presence = Presence> extends Common<string, P> {
  readonly kind: 'duration';
  readonly default?: string;
  readonly minMs?: number;
  readonly maxMs?: number;
}
export interface ListNode<P extends Presence = Presence> extends Common<string[], P> {
  readonly kind: 'list';
  readonly items: StringNode;
  readonly default?: readonly string[];
  readonly minItems?: number;
}
/** a string, or a non-empty list of strings */
export interface StringOrListNode<P extends Presence = Presence> extends Common<string | string[], P> {
  readonly kind: 'string-or-list';
  readonly items: StringNode;
  readonly default?: string;
  readonly secret?: boolean;
}
export interface MapNode<V extends AnyNode = AnyNode, P extends Presence = Presence> extends Common<Record<string, TypeOf<V>>, P> {
  readonly kind: 'map';
  /** how the keys are called in docs: realms.<name>.… */
  readonly keyName: string;
  readonly values: V;
  readonly keyPattern?: RegExp;
  readonly keyHint?: string;
  readonly minEntries?: number;
  readonly default?: Record<string, never>;
}
export interface ObjectNode<F extends Fields = Fields, P extends Presence = Presence> extends Common<ObjectOf<F>, P> {
  readonly kind: 'object';
  readonly keys: F;
}

export type AnyNode =
  | StringNode
  | EnumNode
  | IntNode
  | IntOrAutoNode
  | NumberNode
  | BooleanNode
  | DurationNode
  | ListNode
  | StringOrListNode
  // biome-ignore lint/suspicious/noExplicitAny: with AnyNode here the type refers to itself and collapses (tsc loses `presence`)
  | MapNode<any>
  // biome-ignore lint/suspicious/noExplicitAny: as above
  | ObjectNode<any>;
type Fields = { readonly [key: string]: AnyNode };

export type TypeOf<N> = N extends { readonly _type?: infer T } ? Exclude<T, undefined> : never;
type PresentKeys<F extends Fields> = { [K in keyof F]: F[K]['presence'] extends 'optional' ? never : K }[keyof F];
type Flatten<T> = { [K in keyof T]: T[K] };
type ObjectOf<F extends Fields> = Flatten<
  { -readonly [K in PresentKeys<F>]: TypeOf<F[K]> } & {
    -readonly [K in Exclude<keyof F, PresentKeys<F>>]?: TypeOf<F[K]> | undefined;
  }
>;
type PresenceOf<O> = O extends { required: true } ? 'required' : O extends { default: unknown } ? 'default' : 'optional';
type Opts<D> = { description: string; required?: true; default?: D };

function presenceOf<O extends { required?: true; default?: unknown }>(o: O): PresenceOf<O> {
  return (o.required ? 'required' : o.default !== undefined ? 'default' : 'optional') as PresenceOf<O>;
}

type StringOpts = Opts<string> & Pick<StringNode, 'pattern' | 'patternHint' | 'minLength' | 'secret'>;
const str = <const O extends StringOpts>(o: O) => ({ kind: 'string', ...o, presence: presenceOf(o) }) as StringNode<PresenceOf<O>>;
const oneOf = <const V extends string, const O extends Opts<NoInfer<V>>>(values: readonly V[], o: O) =>
  ({ kind: 'enum', values, ...o, presence: presenceOf(o) }) as EnumNode<V, PresenceOf<O>>;
const int = <const O extends Opts<number> & { min: number; max: number }>(o: O) => ({ kind: 'int', ...o, presence: presenceOf(o) }) as IntNode<PresenceOf<O>>;
const intOrAuto = <const O extends Opts<number | 'auto'> & { min: number; max: number }>(o: O) =>
  ({ kind: 'int-or-auto', ...o, presence: presenceOf(o) }) as IntOrAutoNode<PresenceOf<O>>;
const num = <const O extends Opts<number> & { min: number; max: number }>(o: O) =>
  ({ kind: 'number', ...o, presence: presenceOf(o) }) as NumberNode<PresenceOf<O>>;
const bool = <const O extends Opts<boolean>>(o: O) => ({ kind: 'boolean', ...o, presence: presenceOf(o) }) as BooleanNode<PresenceOf<O>>;
const duration = <const O extends Opts<string> & { minMs?: number; maxMs?: number }>(o: O) =>
  ({ kind: 'duration', ...o, presence: presenceOf(o) }) as DurationNode<PresenceOf<O>>;
const list = <const O extends Opts<readonly string[]> & { minItems?: number }>(items: StringNode, o: O) =>
  ({ kind: 'list', items, ...o, presence: presenceOf(o) }) as ListNode<PresenceOf<O>>;
const stringOrList = <const O extends Opts<string> & { secret?: boolean }>(items: StringNode, o: O) =>
  ({ kind: 'string-or-list', items, ...o, presence: presenceOf(o) }) as StringOrListNode<PresenceOf<O>>;
const map = <V extends AnyNode, const O extends Opts<Record<string, never>> & Omit<MapNode, keyof Common<0, 'default'> | 'kind' | 'values' | 'default'>>(
  values: V,
  o: O,
) => ({ kind: 'map', values, ...o, presence: presenceOf(o) }) as MapNode<V, PresenceOf<O>>;
/** An object is required when one of its keys is; `optional: true` makes it absent unless written. */
const obj = <const F extends Fields, const O extends { description: string; optional?: true }>(o: O, keys: F) => {
  const required = Object.values(keys).some((k) => k.presence === 'required');
  const presence = o.optional ? 'optional' : required ? 'required' : 'default';
  type P = O extends { optional: true } ? 'optional' : 'required' extends F[keyof F]['presence'] ? 'required' : 'default';
  return { kind: 'object', description: o.description, keys, presence } as ObjectNode<F, P>;
};

// ---------------------------------------------------------------- gateway.yaml

const PATH = { pattern: /^\/(?!\/)[^\s?#]*$/, patternHint: 'a path starting with "/" (no "//", spaces, "?" or "#")' };
const COLOR = { pattern: /^#[0-9a-fA-F]{3,8}$/, patternHint: 'a hex color like #2f6fde' };
export const REALM_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const anyString = str({ description: 'a string' });

export const gatewaySchema = obj(
  { description: 'Gatehouse configuration: an OpenID Connect relying-party gateway in front of a helpdesk.' },
  {
    public_url: str({
      required: true,
      description:
        'The origin browsers see, e.g. https://helpdesk.example.com (no path). Must be https:// unless the host is loopback (localhost, 127.0.0.0/8, ::1).',
    }),
    workers: intOrAuto({
      default: 'auto',
      min: 1,
      max: 256,
      description:
        'Worker processes (node:cluster) sharing the port; auto = as many as the CPUs this process may use (affinity and cgroup quota); 1 = a single process. Workers share sign-outs, spent states, refresh locks and callback limits through the primary process.',
    }),
    listen: obj(
      { description: 'Where the gateway accepts connections.' },
      {
        host: str({ default: '0.0.0.0', description: 'Address to bind.' }),
        port: int({ default: 8080, min: 0, max: 65535, description: 'TCP port to bind (0 = any free port).' }),
        tls: obj(
          { optional: true, description: 'Terminate TLS here (PEM files). Absent: plain HTTP, e.g. behind a TLS-terminating proxy.' },
          {
            cert: str({ required: true, description: 'Path to the PEM certificate chain.' }),
            key: str({ required: true, description: 'Path to the PEM private key.' }),
          },
        ),
        hsts_max_age: duration({
          default: '0s',
          minMs: 0,
          description: 'Strict-Transport-Security max-age sent on https responses; 0s = header not sent.',
        }),
      },
    ),
    trusted_proxies: list(str({ description: 'an IP address or CIDR' }), {
      default: [],
      description: 'IP addresses or CIDRs of proxies whose X-Forwarded-For/-Proto/-Host are believed; empty = none.',
    }),
    upstream: obj(
      { description: 'The helpdesk the gateway forwards to.' },
      {
        url: str({ required: true, description: 'Base URL of the helpdesk, http:// or https://.' }),
        timeout: duration({ default: '30s', minMs: 1, description: 'How long to wait for the helpdesk to answer.' }),
        websockets: bool({ default: true, description: 'Forward WebSocket upgrades.' }),
        preserve_host: bool({
          default: true,
          description: "Send public_url's host as Host upstream, the one the browser asked for (otherwise the upstream URL's host).",
        }),
        max_connections: int({ default: 128, min: 1, max: 65535, description: 'Keep-alive connections to the helpdesk, per worker.' }),
      },
    ),
    session: obj(
      { description: 'How a signed-in person is remembered.' },
      {
        secret: stringOrList(str({ description: 'a session secret', minLength: 1, secret: true }), {
          required: true,
          secret: true,
          description:
            'At least 32 characters, made by a generator (openssl rand -base64 32): a secret that repeats itself or has fewer than 8 different characters is refused. A list enables rotation: the first encrypts, all decrypt. Use ${ENV} rather than writing it here.',
        }),
        store: oneOf(['cookie', 'redis'], {
          default: 'cookie',
          description: 'cookie: stateless, encrypted in the browser; redis: server-side, only a ticket in the cookie.',
        }),
        redis_url: str({
          description:
            'One Redis server: a redis:// or rediss:// (TLS) URL. One of redis_url, redis_sentinels or redis_cluster is required when store is redis. With store: cookie, instances share revocations (sign-out, back-channel logout, sign out everywhere), sign-in states and refresh locks through it (docs/sessions.md).',
        }),
        redis_sentinels: list(str({ description: 'a sentinel: host:port, redis://host:port or rediss://host:port (TLS)' }), {
          minItems: 1,
          description:
            'Redis Sentinel instead of redis_url: the sentinels to ask for the current master of redis_sentinel_master (default port 26379). rediss:// entries use TLS to the sentinels and the servers; a sentinel that wants a password gets it in its entry (redis://:secret@host:26379). The gateway follows a failover by itself (docs/sessions.md).',
        }),
        redis_sentinel_master: str({
          description: 'With redis_sentinels: the master name the sentinels watch (`sentinel monitor <name> …` in sentinel.conf).',
        }),
        redis_cluster: list(str({ description: 'a seed node: host:port, redis://host:port or rediss://host:port (TLS)' }), {
          minItems: 1,
          description:
            'Redis Cluster instead of redis_url: seed nodes (default port 6379); the rest of the cluster is discovered from them. rediss:// entries use TLS to every node.',
        }),
        redis_password: str({
          secret: true,
          description: 'Password of the Redis servers (AUTH), for every mode; a redis_url may carry its own instead. Use ${ENV} rather than writing it here.',
        }),
        lifetime: duration({ default: '12h', minMs: 60_000, description: 'Absolute maximum length of a session.' }),
        idle_timeout: duration({ default: '2h', minMs: 60_000, description: 'Sign out after this long without a request.' }),
        refresh: bool({ default: true, description: 'Use refresh tokens (when the provider issues them) to keep the session alive.' }),
        reauthorize_every: duration({
          default: '15m',
          minMs: 60_000,
          description:
            'Ask the provider again this often whether the person is still who the session says and still allowed (allow rules on the new claims). Costs one provider call per active session per interval (a refresh-token grant, plus userinfo when provider.userinfo is on). Needs a refresh token: without one the session keeps its sign-in claims until lifetime (docs/sessions.md).',
        }),
      },
    ),
    identity: obj(
      { description: 'What the helpdesk receives about the person.' },
      {
        header_prefix: str({
          default: 'X-Auth-',
          pattern: /^[A-Za-z][A-Za-z0-9-]*-$/,
          patternHint: 'a header name prefix ending in "-", like X-Auth-',
          description: 'Prefix of the identity headers; every incoming header with this prefix is removed first.',
        }),
        signing: obj(
          { description: 'How the X-Auth-Assertion JWT is signed.' },
          {
            alg: oneOf(['ES256', 'EdDSA', 'RS256', 'HS256'], { default: 'ES256', description: 'JWS algorithm of the identity assertion.' }),
            key_file: str({ description: 'PEM private key for ES256/EdDSA/RS256; absent: one is generated at start (development only).' }),
            secret: str({ secret: true, description: 'Shared secret for HS256 only, at least 32 characters.' }),
          },
        ),
        assertion_ttl: duration({ default: '60s', minMs: 1_000, maxMs: 3_600_000, description: 'Lifetime of each identity assertion (exp - iat).' }),
      },
    ),
    public_paths: list(str({ ...PATH, description: 'a path glob' }), {
      default: [],
      description: 'Paths forwarded without sign-in, anonymously. Globs: * within a segment, ** across segments.',
    }),
    realms: map(
      obj(
        { description: 'A realm: a part of the helpdesk with its own provider client and sessions.' },
        {
          paths: list(str({ ...PATH, description: 'a path prefix' }), {
            required: true,
            minItems: 1,
            description: 'Path prefixes owned by this realm; the longest matching prefix wins.',
          }),
          callback_path: str({
            required: true,
            ...PATH,
            description: 'Redirect URI path registered at the provider, character for character: no trailing "/".',
          }),
          logout_path: str({ ...PATH, description: 'Sign-out path; default <first path>/logout.' }),
          post_logout_redirect: str({ description: 'Where the browser lands after sign-out: a path, or a URL on public_url or allowed_redirects.' }),
          login: oneOf(['automatic', 'button'], {
            default: 'automatic',
            description: 'automatic: redirect straight to the provider; button: show a sign-in page.',
          }),
          button_text: str({ default: 'Sign in', description: 'Label of the sign-in button (login: button).' }),
          provider: obj(
            { description: "The realm's OpenID Provider and this gateway's client there." },
            {
              issuer: str({ required: true, description: 'Issuer URL; discovery at <issuer>/.well-known/openid-configuration. https:// unless loopback.' }),
              client_id: str({ required: true, description: 'Client ID registered at the provider.' }),
              client_secret: str({ secret: true, description: 'Client secret; required for client_secret_basic and client_secret_post.' }),
              client_auth: oneOf(['client_secret_basic', 'client_secret_post', 'private_key_jwt'], {
                default: 'client_secret_basic',
                description: 'How the gateway authenticates at the token endpoint.',
              }),
              private_key_file: str({ description: 'PEM private key for private_key_jwt.' }),
              scopes: list(str({ pattern: /^[\x21\x23-\x5B\x5D-\x7E]+$/, patternHint: 'a scope without spaces or quotes', description: 'a scope' }), {
                default: ['openid', 'profile', 'email'],
                minItems: 1,
                description: 'Scopes to request; openid is always sent.',
              }),
              extra_auth_params: map(str({ minLength: 0, description: 'parameter value' }), {
                keyName: 'param',
                default: {},
                description: 'Extra authorization request parameters, e.g. {prompt: login} or {audience: ...}.',
              }),
              userinfo: bool({ default: false, description: 'Also call the userinfo endpoint and merge its claims.' }),
            },
          ),
          allow: obj(
            { description: 'Who may use this realm; empty = anyone the provider signs in.' },
            {
              email_domains: list(
                str({ pattern: /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, patternHint: 'a domain like example.com (no @)', description: 'a domain' }),
                { default: [], description: 'Allowed email domains; requires email_verified unless allow_unverified_email.' },
              ),
              allow_unverified_email: bool({
                default: false,
                description:
                  "Accept an email whose email_verified is not true. Also required to use email_domains with claims.email other than email (email_verified speaks for the email claim only), e.g. Entra ID's preferred_username.",
              }),
              claims: map(stringOrList(anyString, { description: 'a value, or a list of which any one suffices' }), {
                keyName: 'claim',
                default: {},
                description: 'Every claim listed must match; a list value matches if the claim contains any of them.',
              }),
            },
          ),
          claims: obj(
            { description: 'Claim names used for the identity headers.' },
            {
              email: str({ default: 'email', description: 'Claim for X-Auth-Email.' }),
              name: str({ default: 'name', description: 'Claim for X-Auth-Name.' }),
              groups: str({ default: 'groups', description: 'Claim for X-Auth-Groups.' }),
            },
          ),
        },
      ),
      {
        required: true,
        keyName: 'name',
        minEntries: 1,
        keyPattern: REALM_NAME,
        keyHint: 'a realm name: a lowercase letter, then up to 31 lowercase letters, digits, "_" or "-"',
        description: 'At least one realm; names are free (a helpdesk has agent and user).',
      },
    ),
    allowed_redirects: list(str({ description: 'an origin' }), {
      default: [],
      description: 'Extra origins (scheme://host[:port]) a return-to or post-logout URL may point at.',
    }),
    cors: obj(
      { description: 'Cross-origin requests through the gateway.' },
      {
        allowed_origins: list(str({ description: 'an origin' }), {
          default: [],
          description: 'Origins (scheme://host[:port]) allowed to make credentialed cross-origin requests.',
        }),
      },
    ),
    pages: obj(
      { description: 'Look of the pages a person sees (sign-in, errors, sign-out).' },
      {
        title: str({ description: 'What the pages call the helpdesk (tab title, sign-in heading). Default: the host of public_url.' }),
        logo_url: str({ description: 'Logo image: a path or an http(s) URL.' }),
        accent_color: str({ default: '#2f6fde', ...COLOR, description: 'Buttons and links.' }),
        background_color: str({ default: '#f6f7f9', ...COLOR, description: 'Page background.' }),
        text_color: str({ default: '#1d2330', ...COLOR, description: 'Body text.' }),
      },
    ),
    admin: obj(
      { description: 'The operator API under /.gatehouse/admin/.' },
      { token: str({ secret: true, minLength: 32, description: 'Bearer token for the admin API, at least 32 characters; absent = admin API off.' }) },
    ),
    limits: obj(
      { description: 'Request limits that protect the gateway and the helpdesk.' },
      {
        max_header_bytes: int({ default: 16384, min: 1024, max: 1_048_576, description: 'Largest request header section, in bytes.' }),
        max_url_bytes: int({ default: 8192, min: 256, max: 1_048_576, description: 'Longest request URL, in bytes.' }),
        header_timeout: duration({ default: '10s', minMs: 1_000, description: 'Time allowed to receive the request headers.' }),
        body_timeout: duration({
          default: '10s',
          minMs: 1_000,
          description:
            'Time allowed to receive a request body (forwarded, or read by the gateway itself: a kept form, sign-in, sign-out, back-channel logout), extended by 1 s for every body_min_rate bytes received; then 408.',
        }),
        body_min_rate: int({
          default: 500,
          min: 1,
          max: 1_000_000_000,
          description: 'Bytes per second a request body must keep up, on average, beyond body_timeout.',
        }),
        failed_callbacks_per_minute: int({ default: 30, min: 1, max: 1_000_000, description: 'Failed sign-in callbacks allowed per client IP per minute.' }),
      },
    ),
    metrics: obj(
      { description: 'Prometheus metrics.' },
      {
        listen: obj(
          {
            optional: true,
            description:
              'Serve metrics on a listener of their own (GET /metrics), aggregated over every worker; /.gatehouse/metrics on the public port then answers 404. Absent: /.gatehouse/metrics on the public port. Takes effect on restart.',
          },
          {
            host: str({ default: '127.0.0.1', description: 'Address to bind (loopback by default: keep metrics private).' }),
            port: int({ required: true, min: 0, max: 65535, description: 'TCP port, e.g. 9464.' }),
          },
        ),
      },
    ),
    observe: obj(
      { description: 'Observability beyond logs and metrics.' },
      {
        tracing: obj(
          {
            optional: true,
            description:
              'OpenTelemetry traces, exported over OTLP/HTTP: a span per request, with children for the provider calls of a sign-in or refresh and for the forward to the helpdesk (docs/operations.md). Absent: tracing off, and no OpenTelemetry code is loaded. Takes effect on restart.',
          },
          {
            otlp_endpoint: str({
              required: true,
              description: "The collector's OTLP/HTTP traces URL, used as written (nothing is appended), e.g. http://otel-collector:4318/v1/traces.",
            }),
            sample_ratio: num({
              default: 1,
              min: 0,
              max: 1,
              description:
                "Share of the traces Gatehouse starts that are recorded (0 to 1). A trace continued from a trusted proxy follows the proxy's sampled flag instead.",
            }),
            service_name: str({ default: 'gatehouse', description: 'service.name of the spans.' }),
          },
        ),
      },
    ),
    log: obj(
      { description: 'Logging: JSON lines to stdout.' },
      {
        level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'pino log level.' }),
        format: oneOf(['json', 'pretty'], { default: 'json', description: 'json lines, or pretty for a terminal.' }),
        access: bool({ default: false, description: 'Log one line per request.' }),
      },
    ),
  },
);
