// A screenshot of the dashboard for the README (tools/make_docs_images.sh).
// usage: node screenshot.mjs URL OUT.png [WAIT_FOR_ALERT_S]
// Opens URL (the address `wdp serve` prints, token included), waits until the page is
// connected and drawing, then for a fall alert up to WAIT_FOR_ALERT_S seconds (0: none),
// and saves the page.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, out, waitAlert = '0'] = process.argv.slice(2);
if (!url || !out) {
  console.error('usage: node screenshot.mjs URL OUT.png [WAIT_FOR_ALERT_S]');
  process.exit(2);
}
const userDataDir = mkdtempSync(join(tmpdir(), 'wdp-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.WDP_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  viewport: { width: 1400, height: 900 },
});
try {
  const page = context.pages()[0] || (await context.newPage());
  await page.goto(url);
  await page.waitForFunction(
    () => Number(document.getElementById('view').dataset.framesReceived || 0) > 20,
    null, { timeout: 60000 },
  );
  if (Number(waitAlert) > 0) {
    await page.locator('#fall-alert').waitFor({ state: 'visible', timeout: Number(waitAlert) * 1000 })
      .catch(() => console.error('no fall alert within the wait; saving the page as it is'));
    await page.waitForTimeout(1500);
  }
  await page.screenshot({ path: out });
  console.log(`dashboard -> ${out}`);
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
