// Debian's Chromium driven by playwright-core for the browser tests: never a downloaded browser.
import { chromium, type Browser } from 'playwright-core';

/** Without the background-networking flags Chromium keeps trying to reach the internet, which this machine refuses. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
