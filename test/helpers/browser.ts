/**
 * A real headless Chromium for the end-to-end tests, driven by playwright-core.
 * The browser is the Debian package (/usr/bin/chromium); nothing is ever
 * downloaded. One browser per test file, one fresh context (own cookies) per
 * test, and every test leaves a screenshot of its final page in
 * test-artifacts/e2e/ for a person to look at when something fails.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startDemoStack, type DemoStack, type DemoStackOptions } from '../../src/demo/stack.js';
import { createLogger } from '../../src/observe/log.js';

export const CHROMIUM_PATH = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * The flags the tests and scripts/screenshots.mjs share: headless, no sandbox
 * (CI runs as root in a container), and nothing that phones home or updates
 * itself while a test runs. QUIC is off so every request is plain HTTP/1.1 on
 * loopback, exactly what the gateway serves.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Same size for every screenshot, so README images do not jump around when regenerated. */
export const VIEWPORT = { width: 1000, height: 760 };

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACT_DIR = join(repoRoot, 'test-artifacts', 'e2e');

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * The one browser a test file shares, closed when the file ends. Without
 * Chromium: a failed test and undefined, not a skip (CI installs it, .ci/run,
 * and a silent skip would hide a whole suite).
 */
export async function browserForFile(t: Teardown & { fail(message: string): void }): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM_PATH)) {
    t.fail(`${CHROMIUM_PATH} not found: apt-get install -y chromium`);
    return undefined;
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 20_000 });
  t.teardown(() => browser.close());
  return browser;
}

/** A fresh browser context (no cookies, no storage) and its first page; closed when the test ends. */
export async function freshPage(t: Teardown, browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: VIEWPORT, locale: 'en-GB' });
  // a failing step should fail in seconds, not hang until tap's timeout
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(20_000);
  t.teardown(() => context.close());
  return { context, page: await context.newPage() };
}

/** Save the whole page as test-artifacts/e2e/<name>.png (and, when asked, the same image elsewhere). */
export async function saveScreenshot(page: Page, name: string, alsoTo?: string): Promise<string> {
  await mkdir(ARTIFACT_DIR, { recursive: true });
  const file = join(ARTIFACT_DIR, `${name}.png`);
  const png = await page.screenshot({ path: file, fullPage: true, animations: 'disabled', caret: 'hide' });
  if (alsoTo) {
    await mkdir(dirname(alsoTo), { recursive: true });
    await writeFile(alsoTo, png);
  }
  return file;
}

/**
 * README images (docs/images/*.png) are written by the browser tests only when
 * scripts/screenshots.mjs asks for them, so a plain `npm test` never touches
 * committed files.
 */
export function readmeImagePath(name: 'sign-in' | 'helpdesk' | 'signed-out' | 'refused' | 'sign-in-cancelled'): string | undefined {
  return process.env.GATEHOUSE_README_IMAGES === '1' ? join(repoRoot, 'docs', 'images', `${name}.png`) : undefined;
}

/** The demo stack the browser talks to, quiet unless something goes wrong. */
export async function startQuietDemoStack(t: Teardown, options: DemoStackOptions = {}): Promise<DemoStack> {
  const stack = await startDemoStack({ logger: createLogger({ level: 'error', format: 'json' }), ...options });
  t.teardown(() => stack.close());
  return stack;
}

/** On the demo provider's sign-in form: type the account in and submit, as a person would. */
export async function fillProviderLogin(page: Page, account: { username: string; password: string }): Promise<void> {
  await page.locator('#login-form').waitFor();
  await page.fill('#username', account.username);
  await page.fill('#password', account.password);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#login-form button[type=submit]')]);
}

/** Wait until the demo helpdesk's websocket check has an answer (echo or close code). */
export async function websocketStatus(page: Page): Promise<string> {
  const status = page.locator('#ws-status');
  await page.waitForFunction(() => {
    const text = document.getElementById('ws-status')?.textContent ?? '';
    return text.includes('echo:') || text.startsWith('closed') || text.startsWith('failed');
  });
  return (await status.textContent()) ?? '';
}

/** The demo helpdesk page as the person sees it. */
export async function helpdeskView(page: Page): Promise<{ realm: string | null; subject: string | null; assertion: string | null; path: string | null }> {
  return {
    realm: await page.textContent('#realm'),
    subject: await page.textContent('#subject'),
    assertion: await page.textContent('#assertion'),
    path: await page.textContent('#path'),
  };
}

/** Every top-level URL the page asks for from now on, redirect hops included. */
export function recordNavigations(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) seen.push(req.url());
  });
  return seen;
}

export const ALICE = { username: 'alice', password: 'alice-demo' };
export const BOB = { username: 'bob', password: 'bob-demo' };
