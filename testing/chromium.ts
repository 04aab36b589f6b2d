// Debian's Chromium driven by playwright-core, as every browser test launches it.
import { type BrowserContext, chromium } from 'playwright-core';
import { loadConfig } from '../src/config.ts';

export const CHROMIUM = loadConfig().chromiumPath;

/** Headless Chromium with a fresh profile folder (passed to Chromium as --user-data-dir). */
export function launchChromium(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
