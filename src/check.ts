/**
 * `gatehouse check`: validate the file, reach every realm's discovery document
 * and JWKS, and print what to register at each provider — the same list the
 * helpdesk's own SSO guide asks for (callback URL, logout URL, web origin).
 */
import { createRemoteJWKSet } from 'jose';
import type { LoadedConfig } from './config/load.js';
import { ProviderClient } from './oidc/provider.js';
import { isGatehouseError } from './errors.js';

export interface RealmReport {
  realm: string;
  issuer: string;
  client_id: string;
  discovery: 'ok' | 'failed';
  jwks: 'ok' | 'failed' | 'skipped';
  error?: string | undefined;
  end_session_endpoint: boolean;
  register: { callback_url: string; logout_url: string; web_origin: string; backchannel_logout_url: string };
}

export interface CheckReport {
  ok: boolean;
  file: string;
  warnings: string[];
  realms: RealmReport[];
}

export async function runCheck(loaded: LoadedConfig): Promise<CheckReport> {
  const { config } = loaded;
  const origin = new URL(config.public_url).origin;
  const realms: RealmReport[] = [];
  for (const [name, realm] of Object.entries(config.realms)) {
    const client = new ProviderClient({ issuer: realm.provider.issuer, timeoutMs: 5000 });
    const report: RealmReport = {
      realm: name,
      issuer: realm.provider.issuer,
      client_id: realm.provider.client_id,
      discovery: 'failed',
      jwks: 'skipped',
      end_session_endpoint: false,
      register: {
        callback_url: new URL(realm.callback_path, origin).href,
        logout_url: new URL(realm.post_logout_redirect ?? realm.paths[0] ?? '/', origin).href,
        web_origin: origin,
        backchannel_logout_url: new URL(`/.gatehouse/backchannel-logout/${name}`, origin).href,
      },
    };
    try {
      const metadata = await client.ensureReady();
      report.discovery = 'ok';
      report.end_session_endpoint = metadata.end_session_endpoint !== undefined;
      const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: 5000 });
      await jwks.reload();
      report.jwks = (jwks.jwks()?.keys.length ?? 0) > 0 ? 'ok' : 'failed';
      if (report.jwks === 'failed') report.error = 'the JWKS has no keys';
    } catch (error) {
      report.error = isGatehouseError(error) ? `${error.code}: ${error.detail ?? error.message}` : (error as Error).message;
      if (report.discovery === 'ok') report.jwks = 'failed';
    } finally {
      client.close();
    }
    realms.push(report);
  }
  const warnings = loaded.warnings.map((w) => `${w.file}:${w.line}:${w.column}  ${w.key}: ${w.message}`);
  for (const r of realms) if (r.discovery === 'ok' && !r.end_session_endpoint) warnings.push(`realm ${r.realm}: the provider has no end_session_endpoint; sign-out ends the gateway session only`);
  return { ok: realms.every((r) => r.discovery === 'ok' && r.jwks === 'ok'), file: loaded.file, warnings, realms };
}

export function formatCheck(report: CheckReport): string {
  const lines: string[] = [];
  for (const r of report.realms) {
    const status = r.discovery === 'ok' && r.jwks === 'ok' ? 'ok' : 'FAILED';
    lines.push(`realm ${r.realm}: ${status}  (issuer ${r.issuer}, client ${r.client_id})`);
    if (r.error) lines.push(`  problem: ${r.error}`);
    lines.push('  register at the provider:');
    lines.push(`    Allowed Callback URL:   ${r.register.callback_url}`);
    lines.push(`    Allowed Logout URL:     ${r.register.logout_url}`);
    lines.push(`    Allowed Web Origin:     ${r.register.web_origin}`);
    lines.push(`    Back-channel logout:    ${r.register.backchannel_logout_url}`);
  }
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  lines.push(report.ok ? `${report.file}: ok` : `${report.file}: FAILED`);
  return lines.join('\n');
}
