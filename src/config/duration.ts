/**
 * Durations in gateway.yaml are strings with units: "500ms", "90s", "15m",
 * "8h", "30d", or a combination written largest unit first ("1h30m").
 * A bare "0" is accepted as zero; any other bare number is refused, so a
 * forgotten unit (`timeout: 30`) is an error rather than 30 milliseconds.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
/** largest first: the order a combination must be written in */
const UNITS: readonly Unit[] = ['d', 'h', 'm', 's', 'ms'];

const PART = /(\d+)(ms|d|h|m|s)/y;

/** Milliseconds, or null when `text` is not a duration. */
export function parseDuration(text: string): number | null {
  const source = text.trim();
  if (source === '0') return 0;
  if (source === '') return null;
  let total = 0;
  let lastUnit = -1;
  PART.lastIndex = 0;
  while (PART.lastIndex < source.length) {
    const match = PART.exec(source);
    if (match === null) return null;
    const unit = match[2] as Unit;
    const rank = UNITS.indexOf(unit);
    // each unit at most once, largest first: "30m1h" and "1m1m" are typos, not durations
    if (rank <= lastUnit) return null;
    lastUnit = rank;
    total += Number(match[1]) * UNIT_MS[unit];
  }
  return Number.isSafeInteger(total) ? total : null;
}

/** The shortest duration string that parses back to `ms` (rounded to whole milliseconds). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`not a duration: ${ms}`);
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let text = '';
  for (const unit of UNITS) {
    const count = Math.floor(rest / UNIT_MS[unit]);
    if (count > 0) {
      text += `${count}${unit}`;
      rest -= count * UNIT_MS[unit];
    }
  }
  return text;
}

/** The pattern the published JSON Schema uses for duration strings. */
export const DURATION_PATTERN = '^(0|(?=\\d)(\\d+d)?(\\d+h)?(\\d+m)?(\\d+s)?(\\d+ms)?)$';

/** A duration of a validated config (schema.ts gave it its default and checked it), in ms. */
export function durationMs(text: string): number {
  const value = parseDuration(text);
  if (value === null) throw new Error(`not a duration: ${text}`);
  return value;
}
