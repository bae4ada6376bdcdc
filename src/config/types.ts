/**
 * The shape of gateway.yaml after the schema has applied its defaults.
 * Durations are still strings here ("90s"); config/runtime.ts turns them into
 * milliseconds once, so nothing on the request path parses a duration.
 * Keys marked "addition" are Gatehouse's additions to the contract (see README).
 */

export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256' | 'HS256';
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
export type LoginMode = 'automatic' | 'button';

export interface ProviderConfig {
  issuer: string;
  client_id: string;
  client_secret?: string | undefined;
  client_auth: ClientAuthMethod;
  private_key_file?: string | undefined;
  scopes: string[];
  extra_auth_params: Record<string, string>;
  userinfo: boolean;
}

export interface AllowConfig {
  email_domains: string[];
  allow_unverified_email: boolean;
  claims: Record<string, string | string[]>;
}

export interface RealmConfig {
  paths: string[];
  callback_path: string;
  logout_path?: string | undefined;
  post_logout_redirect?: string | undefined;
  login: LoginMode;
  button_text: string;
  provider: ProviderConfig;
  allow: AllowConfig;
  claims: { email: string; name: string; groups: string };
}

export interface GatewayConfig {
  public_url: string;
  /** addition: worker processes (node:cluster); 1 = single process; auto = the CPUs this process may use */
  workers: number | 'auto';
  listen: {
    host: string;
    port: number;
    tls?: { cert: string; key: string } | undefined;
    /** addition: Strict-Transport-Security max-age; "0s" = header not sent */
    hsts_max_age: string;
  };
  trusted_proxies: string[];
  upstream: {
    url: string;
    timeout: string;
    websockets: boolean;
    preserve_host: boolean;
    /** addition: keep-alive connections per worker to the helpdesk */
    max_connections: number;
  };
  session: {
    secret: string | string[];
    store: 'cookie' | 'redis';
    redis_url?: string | undefined;
    /** Redis Sentinel (with redis_sentinel_master) */
    redis_sentinels?: string[] | undefined;
    redis_sentinel_master?: string | undefined;
    /** Redis Cluster seed nodes */
    redis_cluster?: string[] | undefined;
    redis_password?: string | undefined;
    lifetime: string;
    idle_timeout: string;
    refresh: boolean;
    /** addition: how often a session's authorization is renewed at the provider */
    reauthorize_every: string;
  };
  identity: {
    header_prefix: string;
    signing: { alg: SigningAlg; key_file?: string | undefined; secret?: string | undefined };
    assertion_ttl: string;
  };
  public_paths: string[];
  realms: Record<string, RealmConfig>;
  allowed_redirects: string[];
  cors: { allowed_origins: string[] };
  /** addition: look of the pages a person sees (sign-in, errors, logout) */
  pages: { title?: string | undefined; logo_url?: string | undefined; accent_color: string; background_color: string; text_color: string };
  /** addition: operator credential for /.gatehouse/admin/* (sign out everywhere); absent = admin API off */
  admin: { token?: string | undefined };
  /** addition: request limits that protect the gateway and the helpdesk */
  limits: {
    max_header_bytes: number;
    max_url_bytes: number;
    header_timeout: string;
    body_timeout: string;
    body_min_rate: number;
    failed_callbacks_per_minute: number;
  };
  /** addition: metrics on a listener of their own (absent: /.gatehouse/metrics on the public port) */
  metrics: { listen?: { host: string; port: number } | undefined };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; format: 'json' | 'pretty'; /** addition */ access: boolean };
}

/** One problem found in a configuration file, pointing at where it is. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** dotted key path, e.g. realms.agent.provider.issuer */
  key: string;
  message: string;
  severity: 'error' | 'warning';
}
