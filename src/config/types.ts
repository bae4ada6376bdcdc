/**
 * The shape of gateway.yaml after the schema has applied its defaults, derived
 * from the schema itself (schema.ts: each key's type comes from the node that
 * describes it), so the two cannot drift apart. Durations are still strings
 * here ("90s"); runtime.ts turns them into milliseconds once, so nothing on
 * the request path parses a duration. Which keys are Gatehouse's additions to
 * the contract: the README.
 */
import type { TypeOf, gatewaySchema } from './schema.js';

export type GatewayConfig = TypeOf<typeof gatewaySchema>;
export type RealmConfig = GatewayConfig['realms'][string];
export type ProviderConfig = RealmConfig['provider'];
export type AllowConfig = RealmConfig['allow'];
export type SigningAlg = GatewayConfig['identity']['signing']['alg'];
export type ClientAuthMethod = ProviderConfig['client_auth'];
export type LoginMode = RealmConfig['login'];

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
