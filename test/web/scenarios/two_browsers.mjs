// (b) Two browser contexts join one room and each decodes the other's
// video: getStats framesDecoded > 0 and a canvas pixel check. The call
// then runs long enough for a few telemetry reports (every 2 s) so the
// console scenario can chart it, and both leave.
import { params, launch, track, agreeAndJoin, remoteVideoCheck, srtpCiphers, screenshot, step, result, assert, run } from '../lib.mjs';

run(async () => {
  const browser = await launch();
  const room = params.room;
  const users = ['alice', 'bob'];
  const pages = [];
  const problems = [];
  for (const u of users) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    page._problems = track(page, u);
    await agreeAndJoin(page, { userId: u, room });
    pages.push(page);
  }
  const seen = {};
  for (let i = 0; i < 2; i++) {
    const other = users[1 - i];
    seen[users[i]] = await remoteVideoCheck(pages[i], other);
    assert(seen[users[i]].framesDecoded > 0, `${users[i]} decoded no frame of ${other}`);
  }
  step('media-flowing', seen);
  // Let statistics, the stats overlay and telemetry run for a while.
  await pages[0].waitForTimeout(params.callSeconds ? params.callSeconds * 1000 : 7000);
  const overlay = await pages[0].locator('.stats').first().innerText();
  const ciphers = await srtpCiphers(pages[0]);
  await screenshot(pages[0], 'demo-call.png');
  for (const p of pages) {
    await p.click('#leave');
    await p.waitForFunction(() => window.parleyDemo.state !== 'in-room', null, { timeout: 10000 });
  }
  for (const p of pages) problems.push(...p._problems);
  result({ seen, ciphers, overlay, problems });
  await browser.close();
});
