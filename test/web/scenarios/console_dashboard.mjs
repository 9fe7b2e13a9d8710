// (e) The console shows a chart of a just-finished call's statistics: log
// in as the owner, open the quality dashboard for the room, wait for the
// rtt chart to hold a drawn series; screenshots at desktop and phone
// widths, no console errors. On the desktop it also lists the operators
// and looks up one caller's consent history (an audited read).
import { params, launch, track, screenshot, result, assert, run } from '../lib.mjs';

run(async () => {
  const browser = await launch();
  const problems = [];
  const charts = {};
  let operators = [];
  let ledger = [];
  for (const [name, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    const ctx = await browser.newContext({ viewport });
    const page = await ctx.newPage();
    const p = track(page, `console-${name}`);
    await page.goto(params.base + '/console/');
    await page.fill('#login-name', params.operator);
    await page.fill('#login-password', params.password);
    await page.click('#login-submit');
    await page.waitForFunction(() => window.parleyConsole && window.parleyConsole.ready, null, { timeout: 15000 });
    await screenshot(page, `console-home-${name}.png`);
    await page.goto(`${params.base}/console/#/quality?app=${params.sdkappid}&room=${encodeURIComponent('s:' + params.room)}&range=1h`);
    const card = page.locator('.chart-card[data-metric="rtt"] svg').first();
    await card.waitFor({ state: 'attached', timeout: 20000 });
    // A drawn series is a path or polyline with points in it.
    const drawn = await page.waitForFunction(() => {
      const svg = document.querySelector('.chart-card[data-metric="rtt"] svg');
      if (!svg) return false;
      const lines = [...svg.querySelectorAll('path, polyline')].filter((e) => (e.getAttribute('d') || e.getAttribute('points') || '').length > 10);
      return lines.length > 0 ? lines.length : false;
    }, null, { timeout: 20000 });
    charts[name] = { rttLines: await drawn.jsonValue(), cards: await page.locator('.chart-card').count() };
    // Nothing may overflow the viewport sideways (phone layout).
    charts[name].overflowX = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await screenshot(page, `console-dashboard-${name}.png`);
    if (name === 'desktop') {
      await page.goto(`${params.base}/console/#/operators`);
      await page.locator('#operators-list tbody tr').first().waitFor({ timeout: 15000 });
      operators = await page.locator('#operators-list tbody tr').allTextContents();
      await page.goto(`${params.base}/console/#/consent?app=${params.sdkappid}`);
      await page.fill('#ledger-user', params.ledgerUser);
      await page.click('#ledger-submit');
      await page.locator('#ledger-output tbody tr').first().waitFor({ timeout: 15000 });
      ledger = await page.locator('#ledger-output tbody tr').allTextContents();
      await screenshot(page, 'console-consent-ledger.png');
    }
    problems.push(...p);
    await ctx.close();
  }
  assert(charts.desktop.rttLines > 0, 'no rtt series drawn');
  result({ charts, operators, ledger, problems });
  await browser.close();
});
