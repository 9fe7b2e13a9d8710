// (c) A browser and a Go SDK client exchange media both ways. The Go test
// has put its client (publishing the VP8 test clip and Opus) in the room;
// the browser joins, decodes the Go client's video, reports STEP
// browser-decoded, and stays until the Go side, having received the
// browser's video, writes "done" on stdin.
import { params, launch, track, agreeAndJoin, remoteVideoCheck, srtpCiphers, screenshot, step, result, waitLine, run } from '../lib.mjs';

run(async () => {
  const browser = await launch();
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  const problems = track(page, 'browser');
  const done = waitLine('done');
  await agreeAndJoin(page, { userId: params.user, room: params.room });
  const seen = await remoteVideoCheck(page, params.goUser);
  const ciphers = await srtpCiphers(page);
  step('browser-decoded', { seen, ciphers });
  await screenshot(page, 'demo-with-go-client.png');
  await done;
  await page.click('#leave');
  result({ seen, ciphers, problems });
  await browser.close();
});
