/**
 * What `gatehouse demo` shows in its terminal: one banner in words. The
 * gateway's log lines (pino JSON) are turned into "warning: …" sentences; the
 * ones written while the demo starts (development-only settings) are held back
 * and printed once inside the banner, the later ones as they come.
 */
import { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };

export interface DemoBannerFacts {
  publicUrl: string;
  issuer: string;
  helpdeskUrl: string;
  agent: { username: string; password: string };
  user: { username: string; password: string };
}

/** A log destination for the demo: JSON lines in, sentences out. */
export class DemoLogWords extends Writable {
  private held: string[] | null = [];
  private partial = '';

  constructor(private readonly out: NodeJS.WritableStream) {
    super();
  }

  /** the sentences logged so far; from now on they are written as they come */
  release(): string[] {
    const held = this.held ?? [];
    this.held = null;
    return held;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    const lines = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const words = inWords(line);
      if (words === undefined) continue;
      if (this.held) {
        if (!this.held.includes(words)) this.held.push(words);
      } else this.out.write(`${words}\n`);
    }
    done();
  }
}

/** `warning: <msg>` for a pino JSON line (with its code, when there is one) */
export function inWords(line: string): string | undefined {
  if (line.trim() === '') return undefined;
  try {
    const entry = JSON.parse(line) as { level?: number; msg?: string; code?: string };
    const level = LEVELS[entry.level ?? 30] ?? 'info';
    return `${level}: ${entry.msg ?? ''}${entry.code ? ` (${entry.code})` : ''}`;
  } catch {
    return line;
  }
}

export function demoBanner(facts: DemoBannerFacts, startupNotes: readonly string[]): string {
  const lines = [
    'Gatehouse demo is running (loopback only):',
    `  helpdesk as an agent:  ${facts.publicUrl}/agent      sign in as ${facts.agent.username} / ${facts.agent.password}`,
    `  helpdesk as a user:    ${facts.publicUrl}/           sign in as ${facts.user.username} / ${facts.user.password}`,
    `  OpenID Provider:       ${facts.issuer}`,
    `  demo helpdesk (direct, no identity): ${facts.helpdeskUrl}`,
    `  gateway endpoints:     ${facts.publicUrl}/.gatehouse/readyz  ${facts.publicUrl}/.gatehouse/jwks.json`,
  ];
  if (startupNotes.length > 0) {
    lines.push('At start, the gateway noted:');
    for (const note of startupNotes) lines.push(`  ${note}`);
  }
  lines.push('Press Ctrl-C to stop.', '');
  return lines.join('\n');
}
