// Shared helpers of the browser scenarios. A scenario is a Node script the
// Go test in test/browser_test.go runs with PARLEY_E2E set to a JSON
// object (base URL, screenshot directory, scenario parameters). It prints
// progress lines, "STEP <name> <json>" lines the Go side may wait for,
// and ends with "RESULT <json>"; it exits non-zero on failure.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const params = JSON.parse(process.env.PARLEY_E2E || '{}');

// Flags: fake camera and microphone with the permission prompt answered,
// loopback ICE candidates (the server listens on 127.0.0.1), and no
// background traffic to Google, which this machine's network refuses.
const chromiumArgs = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
];

export async function launch() {
  return chromium.launch({
    executablePath: params.chromium || '/usr/bin/chromium',
    headless: true,
    args: chromiumArgs,
  });
}

// track collects a page's console errors, uncaught exceptions and
// failed requests: every scenario fails on any of them.
export function track(page, name) {
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${name}: uncaught: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A page navigated away or closed aborts its pending requests.
    const why = r.failure()?.errorText || '';
    if (!why.includes('ERR_ABORTED')) problems.push(`${name}: request failed: ${r.method()} ${r.url()} ${why}`);
  });
  return problems;
}

export function step(name, data = {}) {
  process.stdout.write(`STEP ${name} ${JSON.stringify(data)}\n`);
}

export function log(...a) {
  process.stdout.write(a.join(' ') + '\n');
}

export function result(data) {
  process.stdout.write(`RESULT ${JSON.stringify(data)}\n`);
}

// waitLine resolves when the Go side writes the given line on stdin.
export function waitLine(want) {
  const rl = createInterface({ input: process.stdin });
  return new Promise((resolve) => {
    rl.on('line', (l) => {
      if (l.trim() === want) {
        rl.close();
        resolve();
      }
    });
  });
}

export async function screenshot(page, file) {
  if (!params.screenshots) return;
  mkdirSync(params.screenshots, { recursive: true });
  const path = join(params.screenshots, file);
  await page.screenshot({ path, fullPage: false });
  log('screenshot', path);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// run wraps a scenario: any throw prints the error and exits 1.
export function run(fn) {
  fn().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`scenario failed: ${e && e.stack ? e.stack : e}\n`);
      process.exit(1);
    },
  );
}

// agreeAndJoin opens the demo, agrees in the consent popup and joins a
// room as userId.
export async function agreeAndJoin(page, { userId, room }) {
  await page.goto(params.base + '/demo/');
  await page.locator('#consent').waitFor({ state: 'visible' });
  await page.click('#consent-agree');
  await page.locator('#join').waitFor({ state: 'visible' });
  await page.fill('#user-id', userId);
  await page.fill('#room-name', room);
  await page.click('#join');
  await page.waitForFunction(() => window.parleyDemo && window.parleyDemo.state === 'in-room', null, { timeout: 20000 });
}

// remoteVideoCheck waits until the remote tile of userId has decoded
// frames (getStats framesDecoded > 0) and its picture is not blank (a
// canvas pixel check: the fake camera and the test clip have texture, a
// black or frozen-blank frame does not).
export async function remoteVideoCheck(page, userId, timeout = 30000) {
  const sel = `video.tile.remote[data-user-id="${userId}"]`;
  await page.locator(sel).waitFor({ state: 'attached', timeout });
  await page.waitForFunction((s) => {
    const v = document.querySelector(s);
    return v && v.videoWidth > 0 && v.readyState >= 2;
  }, sel, { timeout });
  const decoded = await page.waitForFunction(async (uid) => {
    const pc = window.parleyDemo.client.subscriberPC || null;
    const stats = window.parleyDemo.lastStats;
    const r = stats && (stats.remoteStatistics || []).find((x) => x.userId === uid && x.framesDecoded > 0);
    if (r) return r.framesDecoded;
    if (!pc) return false;
    const rep = await pc.getStats();
    let n = 0;
    rep.forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video') n += x.framesDecoded || 0; });
    return n > 0 ? n : false;
  }, userId, { timeout, polling: 500 });
  const framesDecoded = await decoded.jsonValue();
  const pixels = await page.evaluate((s) => {
    const v = document.querySelector(s);
    const c = document.createElement('canvas');
    c.width = 64; c.height = 48;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0, c.width, c.height);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let sum = 0, sum2 = 0, n = 0, lit = 0;
    for (let i = 0; i < d.length; i += 4) {
      const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      sum += y; sum2 += y * y; n++;
      if (y > 16) lit++;
    }
    const mean = sum / n;
    return { mean, stddev: Math.sqrt(Math.max(0, sum2 / n - mean * mean)), litFraction: lit / n,
      width: v.videoWidth, height: v.videoHeight };
  }, sel);
  return { framesDecoded, pixels };
}

// srtpCiphers reads the SRTP cipher of every DTLS transport of the demo
// client's PeerConnections, as Chromium reports it.
export async function srtpCiphers(page) {
  return page.evaluate(async () => {
    const c = window.parleyDemo.client;
    const out = [];
    for (const pc of [c.publisherPC, c.subscriberPC]) {
      if (!pc) continue;
      const rep = await pc.getStats();
      rep.forEach((x) => { if (x.type === 'transport' && x.srtpCipher) out.push(x.srtpCipher); });
    }
    return out;
  });
}
