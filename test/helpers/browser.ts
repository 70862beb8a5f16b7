/**
 * A real headless Chromium for tests, driven by playwright-core (which downloads no browser:
 * it drives Debian's `chromium` package). Each launch gets a new, empty profile folder.
 * Nothing is skipped: without Chromium the launch fails and says how to install it.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  /** A new tab; its console errors and uncaught exceptions are collected in `errors`. */
  newPage(): Promise<Page>;
  /** Messages of console errors and page errors seen in any tab. */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Starts Chromium with a fresh `--user-data-dir` (Playwright passes the folder as that flag
 * when it launches a persistent context). Close it in the test's cleanup.
 */
export async function launchBrowser(options: { width?: number; height?: number } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: the browser tests need it. Install it with: apt-get install chromium`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'league-backfill-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: { width: options.width ?? 1440, height: options.height ?? 900 },
      timeout: 30_000,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`Chromium at ${CHROMIUM_PATH} did not start (${(error as Error).message}). Reinstall it with: apt-get install chromium`, { cause: error });
  }
  const errors: string[] = [];
  return {
    context,
    errors,
    async newPage() {
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
