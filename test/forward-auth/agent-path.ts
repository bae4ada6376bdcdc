// Is a request target, as the upstream received it, an agent path to some
// helpdesk? Read the ways real servers and frameworks do: as sent, and decoded
// once (every server decodes percent-escapes once before routing); a backslash
// as a slash (IIS, some PHP and Windows stacks); case-insensitively (Windows
// file systems, case-insensitive routers); cut at a raw `#` (a fragment: an
// encoded %23 is a character of the path once decoded) and at a NUL (C string
// handling); `;parameters` cut from every segment (Tomcat, Jetty, Spring);
// then dot segments resolved and empty segments merged. Not read: a second
// decoding, overlong UTF-8 and Unicode compatibility forms, which no current
// server applies to the path it routes by.
export function readsAsAgent(target: string): boolean {
  const raw = target
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '')
    .split('#')[0]!
    .split('?')[0]!;
  const readings = [raw];
  try {
    readings.push(decodeURIComponent(raw));
  } catch {
    readings.push(raw.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))));
  }
  return readings.some((reading) => {
    const path = reading.replace(/\\/g, '/').toLowerCase().split('\0')[0]!;
    const out: string[] = [];
    const segments = path
      .split('/')
      .slice(1)
      .map((s) => s.split(';')[0]!);
    for (const [i, s] of segments.entries()) {
      if (s === '..') out.pop();
      else if (s !== '.' && (s !== '' || i === segments.length - 1)) out.push(s);
    }
    const resolved = `/${out.join('/')}`;
    return resolved === '/agent' || resolved.startsWith('/agent/');
  });
}
