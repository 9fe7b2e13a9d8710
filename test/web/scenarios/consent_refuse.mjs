// (a) The consent popup appears; after Refuse the page stays usable and
// nothing more is sent to Parley: no request, no WebSocket, no id kept in
// storage. The Go side checks the server's route log too.
import { params, launch, track, step, result, assert, run, screenshot } from '../lib.mjs';

run(async () => {
  const browser = await launch();
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  const problems = track(page, 'demo');
  await page.goto(params.base + '/demo/');
  const popup = page.locator('#consent');
  await popup.waitFor({ state: 'visible' });
  const text = await popup.innerText();
  const policyHref = await popup.locator('a').first().getAttribute('href');
  assert(await page.locator('#consent-agree').isVisible(), 'no Agree button');
  assert(await page.locator('#consent-refuse').isVisible(), 'no Refuse button');
  await screenshot(page, 'demo-consent.png');

  // From here on, record everything the page sends.
  const sent = [];
  page.on('request', (r) => sent.push(`${r.method()} ${r.url()}`));
  page.on('websocket', (ws) => sent.push(`WEBSOCKET ${ws.url()}`));
  step('before-refuse');
  await page.click('#consent-refuse');
  await popup.waitFor({ state: 'hidden' });
  const state = await page.evaluate(() => window.parleyDemo && window.parleyDemo.state);
  // Still usable: the popup can be reopened and refused again.
  await page.click('#consent-open');
  await popup.waitFor({ state: 'visible' });
  await page.click('#consent-refuse');
  await popup.waitFor({ state: 'hidden' });
  // Give a misbehaving page time to phone home (timers, retries): the
  // SDK's keepalive is 10 s, its telemetry 2 s.
  await page.waitForTimeout(3000);
  const storage = await page.evaluate(() => Object.keys(window.localStorage));
  step('after-refuse');
  await screenshot(page, 'demo-refused.png');
  result({ state, sent, storage, popupText: text, policyHref, problems });
  await browser.close();
});
