// (d) Chat and history sync across a reload: alice writes, bob joins and
// sees it from history, bob answers live, alice reloads the page (consent
// remembered, no popup), joins again and sees both lines in order, then
// withdraws her consent from the page.
import { params, launch, track, agreeAndJoin, result, assert, run, step, waitLine } from '../lib.mjs';

async function say(page, text) {
  await page.fill('#chat-input', text);
  await page.click('#chat-send');
}

async function waitChat(page, texts) {
  await page.waitForFunction((want) => {
    const lines = [...document.querySelectorAll('#chat-log .chat-line')].map((e) => e.textContent);
    let i = 0;
    for (const l of lines) if (i < want.length && l.includes(want[i])) i++;
    return i === want.length;
  }, texts, { timeout: 20000 });
  return page.$$eval('#chat-log .chat-line', (ls) => ls.map((e) => e.textContent));
}

run(async () => {
  const browser = await launch();
  const room = params.room;
  const [a, b] = [await (await browser.newContext()).newPage(), await (await browser.newContext()).newPage()];
  const problems = [track(a, 'alice'), track(b, 'bob')];
  const first = `hello from alice ${Date.now()}`;
  const second = `hi alice, bob here ${Date.now()}`;
  await agreeAndJoin(a, { userId: 'alice', room });
  await say(a, first);
  await waitChat(a, [first]);
  await agreeAndJoin(b, { userId: 'bob', room });
  await waitChat(b, [first]);
  await say(b, second);
  await waitChat(a, [first, second]);

  await a.reload();
  await a.locator('#join').waitFor({ state: 'visible' });
  const popupAfterReload = await a.locator('#consent').isVisible();
  await a.fill('#user-id', 'alice');
  await a.fill('#room-name', room);
  await a.click('#join');
  await a.waitForFunction(() => window.parleyDemo.state === 'in-room', null, { timeout: 20000 });
  const afterReload = await waitChat(a, [first, second]);
  assert(!popupAfterReload, 'the consent popup came back after a reload');
  // Withdrawing in the room: stop() tells the server, leaves, and forgets
  // the grant and the install id; the popup is back.
  step('before-withdraw');
  await a.click('#withdraw');
  await a.waitForFunction(() => window.parleyDemo.state === 'consent', null, { timeout: 10000 });
  const storageAfterWithdraw = await a.evaluate(() => Object.keys(window.localStorage));
  step('withdrawn');
  await waitLine('checked');
  await b.click('#leave');
  result({ afterReload, popupAfterReload, storageAfterWithdraw, problems: problems.flat() });
  await browser.close();
});
