// /.gatehouse/ is the gateway's: no path under it is ever forwarded to the
// helpdesk, however it is spelled (case, encoding, dot segments, doubled
// slashes), signed in or not.
import t from 'tap';
import { BOB, rawRequest, startTestStack } from '../helpers/stack.js';

t.test('/.gatehouse/ paths are never forwarded', async (t) => {
  const stack = await startTestStack();
  t.teardown(() => stack.close());
  const { jar } = await stack.signIn('/', BOB);
  const cookie = jar.cookieHeader(`${stack.publicUrl}/`)!;
  const before = stack.upstream.requests.length;
  const paths = [
    '/.gatehouse',
    '/.gatehouse/',
    '/%2Egatehouse',
    '/.gatehouse/nothing-here',
    '/.gatehouse/admin/sessions',
    '/.GATEHOUSE/healthz',
    '/.Gatehouse/x',
    '/%2Egatehouse/healthz',
    '/%2egatehouse/x',
    '//.gatehouse/x',
    '/x/../.gatehouse/x',
    '/./.gatehouse/x',
    '/.gatehouse/../.gatehouse/x',
  ];
  for (const path of paths) {
    for (const headers of [
      [['Accept', 'application/json']],
      [
        ['Accept', 'application/json'],
        ['Cookie', cookie],
      ],
    ] as Array<Array<[string, string]>>) {
      const res = await rawRequest(stack.publicUrl, 'GET', path, headers);
      t.ok(res.status === 404 || res.status === 400, `${path}${headers.length > 1 ? ' (signed in)' : ''}: answered by the gateway (${res.status})`);
    }
  }
  t.same(
    stack.upstream.requests.slice(before).map((r) => r.url),
    [],
    'nothing under /.gatehouse/ reached the helpdesk',
  );
});
