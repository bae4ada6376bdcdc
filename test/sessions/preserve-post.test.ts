// No lost work: a same-origin form POST whose session ended is answered with a
// page that keeps the form in the tab and goes to sign in; everything else
// (scripts, cross-site forms, uploads, huge forms) is refused in a way the
// front end or the person can recover from. The whole round trip in a real
// browser is in preserve-post-browser.test.ts.
import t from 'tap';
import { fetchWithJar } from '../helpers/browserless.js';
import { startUpstream } from '../helpers/upstream.js';
import { NAVIGATION, XHR, startCluster } from './fixtures/cluster.js';

const upstream = await startUpstream();
t.teardown(() => upstream.close());
const cluster = await startCluster({ store: 'cookie', instances: 1, upstreamUrl: upstream.url });
t.teardown(() => cluster.close());
cluster.use(0);
const origin = cluster.publicUrl;
const formPost = {
  ...NAVIGATION,
  'content-type': 'application/x-www-form-urlencoded',
  origin,
  'sec-fetch-site': 'same-origin',
  referer: `${origin}/agent/tickets/42?tab=reply`,
};
const typed = 'Dear customer,\n</script><script>alert(1)</script> — ünïcödé & "quotes"\u2028end';

t.test('a same-origin form POST after the session ended: a page that keeps the form and goes to sign in', async (t) => {
  const body = new URLSearchParams([
    ['reply', typed],
    ['csrf_token', 'helpdesk-csrf-1'],
    ['reply', 'second value'],
  ]).toString();
  const res = await fetchWithJar(`${origin}/agent/tickets/42/reply?draft=1`, { method: 'POST', headers: formPost, body });
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /^text\/html/);
  t.equal(res.headers['cache-control'], 'no-store');
  const csp = String(res.headers['content-security-policy']);
  const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
  t.ok(nonce, 'the CSP allows only scripts with a nonce');
  t.match(csp, /default-src 'none'/);
  t.match(csp, /form-action 'self'/);
  const scripts = [...res.body.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!);
  t.same(
    scripts.sort(),
    [` nonce="${nonce}"`, ' type="application/json" id="gh-form"'].sort(),
    'one data block and one script with the nonce: what was typed cannot add a script',
  );
  t.notOk(res.body.includes('<script>alert(1)'), 'the typed text is escaped');

  const data = JSON.parse(/<script type="application\/json" id="gh-form">([\s\S]*?)<\/script>/.exec(res.body)![1]!) as {
    action: string;
    back: string;
    login: string;
    fields: Array<[string, string]>;
  };
  t.equal(data.action, '/agent/tickets/42/reply?draft=1', 'posted again where it was going');
  t.equal(data.back, '/agent/tickets/42?tab=reply', 'and the page it came from, if it cannot be');
  t.same(
    data.fields,
    [
      ['reply', typed],
      ['csrf_token', 'helpdesk-csrf-1'],
      ['reply', 'second value'],
    ],
    'every field, in order, exactly as typed',
  );
  const resume = `/.gatehouse/resume-post?rd=${encodeURIComponent(data.action)}&back=${encodeURIComponent(data.back)}`;
  t.equal(data.login, `/.gatehouse/login?realm=agent&rd=${encodeURIComponent(resume)}`, 'sign in, then come back to the resume page');
  t.equal(res.headers['x-gatehouse-login'], data.login);
  t.equal(upstream.requests.length, 0, 'nothing reached the helpdesk');

  // the sign-in link works: it starts a login attempt for the agent realm whose return is the resume page
  const start = await fetchWithJar(`${origin}${data.login}`, { headers: NAVIGATION });
  t.equal(start.status, 302);
  t.match(String(start.headers.location), /\/auth\?/);
});

t.test('the resume page re-posts to this site only', async (t) => {
  const page = await fetchWithJar(
    `${origin}/.gatehouse/resume-post?rd=${encodeURIComponent('/agent/tickets/42/reply')}&back=${encodeURIComponent('/agent/tickets/42')}`,
    { headers: NAVIGATION },
  );
  t.equal(page.status, 200);
  const csp = String(page.headers['content-security-policy']);
  t.match(csp, /script-src 'nonce-/);
  t.match(csp, /form-action 'self'/);
  t.equal(page.headers['referrer-policy'], 'same-origin', 'the re-posted form carries a same-origin Referer, like the original');
  const data = (p: string) => JSON.parse(/id="gh-resume">([\s\S]*?)<\/script>/.exec(p)![1]!) as { rd: string; back: string };
  t.same(data(page.body), { rd: '/agent/tickets/42/reply', back: '/agent/tickets/42' });
  for (const evil of ['//evil.example/x', 'https://evil.example/x', '/\\evil.example', 'javascript:alert(1)']) {
    const res = await fetchWithJar(`${origin}/.gatehouse/resume-post?rd=${encodeURIComponent(evil)}&back=${encodeURIComponent(evil)}`, { headers: NAVIGATION });
    t.same(data(res.body), { rd: '/', back: '' }, `${evil}: never anywhere but this site`);
  }
});

t.test('what is not kept, and how the person or the front end recovers', async (t) => {
  const path = '/agent/tickets/42/reply';
  const form = new URLSearchParams({ reply: 'hello' }).toString();

  const crossSite = await fetchWithJar(`${origin}${path}`, {
    method: 'POST',
    headers: { ...formPost, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    body: form,
  });
  t.equal(crossSite.status, 401, 'a cross-site form is not kept (its re-post would carry the new session: CSRF)');
  t.match(crossSite.headers['content-type'], /json/);
  t.equal(JSON.parse(crossSite.body).error, 'GH_NOT_SIGNED_IN');

  const noOrigin = await fetchWithJar(`${origin}${path}`, {
    method: 'POST',
    headers: { accept: NAVIGATION.accept, 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  t.equal(noOrigin.status, 401, 'a POST that does not show where it came from is not kept either');
  t.match(noOrigin.headers['content-type'], /json/);

  const xhr = await fetchWithJar(`${origin}${path}`, {
    method: 'POST',
    headers: { ...XHR, 'content-type': 'application/x-www-form-urlencoded', origin, 'sec-fetch-site': 'same-origin', referer: `${origin}/agent/tickets/42` },
    body: form,
  });
  t.equal(xhr.status, 401, 'a script: 401 JSON');
  t.equal(JSON.parse(xhr.body).error, 'GH_NOT_SIGNED_IN');
  t.equal(
    xhr.headers['x-gatehouse-login'],
    `/.gatehouse/login?realm=agent&rd=${encodeURIComponent('/agent/tickets/42')}`,
    'X-Gatehouse-Login brings the person back to the page the script runs on',
  );

  const boundary = 'gh-boundary';
  const upload = await fetchWithJar(`${origin}${path}`, {
    method: 'POST',
    headers: { ...formPost, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n--${boundary}--\r\n`,
  });
  t.equal(upload.status, 401, 'an upload cannot be kept');
  t.match(upload.headers['content-type'], /text\/html/, 'the person gets a page');
  t.match(upload.body, /GH_FORM_NOT_PRESERVED/);
  t.match(upload.body, /copy what you typed/);
  t.equal(
    upload.headers['x-gatehouse-login'],
    `/.gatehouse/login?realm=agent&rd=${encodeURIComponent('/agent/tickets/42?tab=reply')}`,
    'and a way to sign in again to the page of the form',
  );

  const huge = await fetchWithJar(`${origin}${path}`, {
    method: 'POST',
    headers: formPost,
    body: new URLSearchParams({ reply: 'x'.repeat(70_000) }).toString(),
  });
  t.equal(huge.status, 401, 'more than 64 KB is not kept');
  t.match(huge.body, /GH_FORM_NOT_PRESERVED/);
  const { request } = await import('undici');
  const { Readable } = await import('node:stream');
  const chunked = await request(`${origin}${path}`, {
    method: 'POST',
    headers: formPost,
    body: Readable.from([Buffer.from('reply='), Buffer.alloc(70_000, 'x')]),
  });
  t.equal(chunked.statusCode, 401, 'more than 64 KB without a Content-Length: still a clean answer, not a reset');
  t.match(await chunked.body.text(), /GH_FORM_NOT_PRESERVED/);
  t.equal(upstream.requests.length, 0, 'nothing reached the helpdesk');
});
