// Placeholder until the Redis store lands (issue 4): refuses to start rather than pretend.
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../observe/log.js';
import type { Metrics } from '../observe/metrics.js';
import type { SessionStore } from './store.js';
import type { RevocationList } from './revocation.js';
import type { SpentStates } from './login-attempt.js';

export async function createRedisShared(_config: GatewayConfig, _log: Logger, _metrics: Metrics): Promise<{ store: SessionStore; revocations: RevocationList; spentStates: SpentStates }> {
  throw new Error('session.store: redis is not available in this build');
}
