import { DESKTOP, PHONE, axeViolations, horizontalOverflow, logInThroughUi, openScreen, screensOf, seedTenantWithPurchase, startDashboard, type Browser, type Screen } from './dashboard.harness';

/**
 * Every screen of the dashboard, with data on it: axe-core finds no serious or critical
 * violation (on a desktop and a phone), a 390×844 phone has no horizontal scroll, and the
 * keyboard alone gets around (skip link, navigation, the phone menu).
 */
// CI (stop 27) once saw the purchase screen not show its heading in 60 s on a loaded machine, with no
// page or console error; it has not reproduced here (3 runs, one under 3 busy cores). One retry, with the
// first failure logged: openScreen's message now says what the page showed and what the API answered.
jest.retryTimes(1, { logErrorsBeforeRetry: true });

describe('dashboard screens: accessibility and phones', () => {
  let b: Browser;
  let screens: Screen[];
  let owner: { email: string };
  beforeAll(async () => {
    b = await startDashboard({ viewport: PHONE });
    const seeded = await seedTenantWithPurchase(b.t.gateway);
    owner = seeded;
    screens = screensOf(seeded.purchaseId, seeded.ruleId);
  }, 300_000);
  afterAll(async () => {
    await b?.stop();
  });

  const serious = (v: { impact: string | null }): boolean => v.impact === 'serious' || v.impact === 'critical';

  /** Screens whose phone layout differs most (tables become cards, the menu opens): axe runs on them at 390 px too. */
  const PHONE_AXE = new Set(['login', 'overview', 'purchases', 'rules', 'team']);

  /**
   * Phone first: no screen scrolls sideways (and axe on the phone layouts); then a desktop: axe on
   * every screen. axe takes seconds a page on this machine, so each screen is checked once a layout.
   */
  const check = async (signedOut: boolean): Promise<string[]> => {
    const failures: string[] = [];
    for (const viewport of [PHONE, DESKTOP]) {
      await b.page.setViewportSize(viewport);
      for (const [i, s] of screens.filter((x) => !!x.signedOut === signedOut).entries()) {
        // Signed-out screens are separate entry points; signed-in ones are reached through the app's router.
        await openScreen(b.page, b.base, s, !signedOut && i > 0);
        if (viewport === PHONE) {
          const o = await horizontalOverflow(b.page);
          if (o.scrollWidth > o.clientWidth) failures.push(`${s.name} @390: scrolls sideways (${o.scrollWidth} > ${o.clientWidth}); widest ${o.widest}`);
          if (!PHONE_AXE.has(s.name)) continue;
          // The phone's navigation is a menu: check it open.
          if (!signedOut && s.name === 'overview') await b.page.getByRole('button', { name: 'Menu' }).click();
        }
        const bad = (await axeViolations(b.page)).filter(serious);
        for (const v of bad) failures.push(`${s.name} @${viewport.width}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.slice(0, 3).join(', ')}`);
      }
    }
    return failures;
  };

  it('signed-out screens: no serious or critical axe violations, no horizontal scroll on a phone', async () => {
    expect(await check(true)).toEqual([]);
  }, 180_000);

  it('signed-in screens: no serious or critical axe violations, no horizontal scroll on a phone', async () => {
    await b.page.setViewportSize(DESKTOP);
    await logInThroughUi(b.page, b.base, owner.email);
    expect(await check(false)).toEqual([]);
  }, 300_000);

  it('works from the keyboard: skip link, main navigation, and the phone menu', async () => {
    const { page } = b;
    await page.setViewportSize(DESKTOP);
    await openScreen(page, b.base, screens.find((s) => s.name === 'overview')!);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id)).toBe('main');
    // Tab from the top to the Rules link and follow it with Enter.
    await page.goto(`${b.base}/`);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    let reached = false;
    for (let i = 0; i < 15 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent)) === 'Rules';
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Rules' }).waitFor();
    await page.waitForFunction(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id === 'page-title');

    // On a phone the navigation is a menu button that opens and closes from the keyboard.
    await page.setViewportSize(PHONE);
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.focus();
    await page.keyboard.press('Enter');
    expect(await page.getByRole('button', { name: 'Close' }).getAttribute('aria-expanded')).toBe('true');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Purchases' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Purchases' }).waitFor();
    expect(await page.getByRole('button', { name: 'Menu' }).getAttribute('aria-expanded')).toBe('false');
  }, 180_000);

  it('broke no CSP rule and threw no error on any screen', () => {
    expect(b.problems.filter((p) => /Content Security Policy|page error/i.test(p))).toEqual([]);
  });
});
