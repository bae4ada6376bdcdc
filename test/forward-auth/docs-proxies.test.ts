// docs/forward-auth-proxies.md shows each proxy's snippet as the file it is: the
// Caddy one is the file the tests run through a real Caddy, so the page cannot
// drift from what was tested; Traefik's and ingress-nginx's are shown as written.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import t from 'tap';

const root = resolve(import.meta.dirname, '../..');
const read = (path: string): string => readFileSync(resolve(root, path), 'utf8');

t.test('docs/forward-auth-proxies.md shows the snippet files unchanged, and forward-auth.md links it', async (t) => {
  const page = read('docs/forward-auth-proxies.md');
  t.same(
    [...page.matchAll(/```caddyfile\n([\s\S]*?)```/g)].map((m) => m[1]),
    [read('docs/snippets/caddy-forward-auth.Caddyfile')],
    'the Caddy snippet the tests run',
  );
  t.same(
    [...page.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]),
    [read('docs/snippets/traefik-forward-auth.yaml'), read('docs/snippets/ingress-nginx-forward-auth.yaml')],
    'the Traefik and ingress-nginx snippets',
  );
  t.match(read('docs/forward-auth.md'), /\(forward-auth-proxies\.md\)/);
});
