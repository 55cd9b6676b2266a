// A real headless browser for UI suites: the distribution's Chromium (Debian package `chromium`) driven
// by playwright-core, which downloads nothing. One browser per suite; pages are cheap.
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** @default the UPLINK_CHROMIUM variable, else /usr/bin/chromium */
const CHROMIUM_BIN = process.env.UPLINK_CHROMIUM ?? '/usr/bin/chromium';

// quiet and offline: no sandbox (tests run as root), no GPU, no update or sync traffic
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** A page of a launched browser (playwright-core's Page). */
export type BrowserPage = Page;

export interface BrowserOptions {
  /** @default UPLINK_CHROMIUM, else /usr/bin/chromium */
  executablePath?: string;
  /** timeout of each page action and expectation wait @default 10_000 */
  timeoutMs?: number;
}

export interface LaunchedBrowser extends AsyncDisposable {
  browser: Browser;
  /** a page in a fresh context (its own cookies and storage), closed with the browser */
  newPage(): Promise<BrowserPage>;
  close(): Promise<void>;
}

/** Why no browser can run here (a reason to skip a suite), or undefined when one can. */
export function browserUnavailable(executablePath = CHROMIUM_BIN): string | undefined {
  try {
    accessSync(executablePath, constants.X_OK);
    return undefined;
  } catch {
    return `no Chromium at ${executablePath}: install it with \`apt-get install -y chromium\` (or set UPLINK_CHROMIUM)`;
  }
}

export async function launchBrowser(opts: BrowserOptions = {}): Promise<LaunchedBrowser> {
  const executablePath = opts.executablePath ?? CHROMIUM_BIN;
  const timeout = opts.timeoutMs ?? 10_000;
  const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  const contexts: BrowserContext[] = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
    })());
  return {
    browser,
    async newPage() {
      const context = await browser.newContext();
      contexts.push(context);
      context.setDefaultTimeout(timeout);
      return context.newPage();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
