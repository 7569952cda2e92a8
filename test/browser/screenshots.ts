/**
 * Screenshots of every dashboard screen for the README (docs/screenshots/*.png): the whole platform
 * in this process against a fresh test database, a tenant seeded through the API and a signed
 * webhook, Debian's Chromium. Needs PostgreSQL on 127.0.0.1:5432 like the tests.
 *
 *   npm run screenshots
 */
import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DESKTOP, PHONE, logInThroughUi, openScreen, screensOf, seedTenantWithPurchase, startDashboard } from './dashboard.harness';

const OUT = join(__dirname, '..', '..', 'docs', 'screenshots');
/** Phone shots of the screens people check on the go. */
const ON_PHONE = new Set(['overview', 'purchase', 'rules']);

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const b = await startDashboard({ viewport: DESKTOP });
  try {
    const seeded = await seedTenantWithPurchase(b.t.gateway);
    const screens = screensOf(seeded.purchaseId, seeded.ruleId);
    for (const s of screens.filter((x) => x.signedOut && x.name !== 'invite')) {
      await openScreen(b.page, b.base, s);
      await b.page.screenshot({ path: join(OUT, `${s.name}.png`) });
    }
    await logInThroughUi(b.page, b.base, seeded.email);
    // Let the price tick a few times so the chart has a live tail.
    await new Promise((r) => setTimeout(r, 2_000));
    for (const viewport of [DESKTOP, PHONE]) {
      await b.page.setViewportSize(viewport);
      for (const [i, s] of screens.filter((x) => !x.signedOut).entries()) {
        if (viewport === PHONE && !ON_PHONE.has(s.name)) continue;
        await openScreen(b.page, b.base, s, i > 0);
        if (s.name === 'overview') await b.page.getByTestId('holdings-chart').locator('canvas').waitFor({ timeout: 10_000 });
        const file = viewport === PHONE ? `${s.name}-phone.png` : `${s.name}.png`;
        await b.page.screenshot({ path: join(OUT, file), fullPage: viewport === DESKTOP });
        console.log(`docs/screenshots/${file}`);
      }
    }
  } finally {
    await b.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  },
);
