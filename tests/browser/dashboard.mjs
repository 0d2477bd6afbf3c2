// Drives the dashboard in headless Chromium (playwright-core, the system's browser).
// Run by tests/test_dashboard_browser.py, which owns the server. Environment:
//   WDP_TOKEN           a valid token
//   WDP_EXPIRED_TOKEN   a token that has already expired
//   WDP_EXPECTED        JSON file: {frame_id: persons} of the recording's pose frames
//   WDP_ARTIFACTS       directory for the screenshots
//   WDP_CHROMIUM        the browser executable
// Protocol on stdout/stdin: "STEP ..." lines report progress; "START" (once the browser
// runs) asks the test to start the server, answered with its base URL
// (http://127.0.0.1:PORT), so the recording's stream begins when the page can watch it;
// "RESTART" asks the test to
// restart the server on the same port, which answers "RESTARTED" on stdin; "SHORT_TOKEN"
// asks for a token that expires in a few seconds, answered with the token. Exit 0 when
// every check passed; otherwise a "FAIL: ..." line and exit 1.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const TOKEN = env('WDP_TOKEN');
const EXPIRED_TOKEN = env('WDP_EXPIRED_TOKEN');
const EXPECTED = JSON.parse(readFileSync(env('WDP_EXPECTED'), 'utf8'));
const ARTIFACTS = env('WDP_ARTIFACTS');
const BACKGROUND = [0x0b, 0x0e, 0x11]; // render.js BACKGROUND

const step = (text) => console.log(`STEP ${text}`);
const check = (ok, text) => {
  if (!ok) throw new Error(text);
};

const stdin = createInterface({ input: process.stdin });
const lines = [];
let waiter = null;
stdin.on('line', (line) => {
  lines.push(line);
  if (waiter) waiter();
});
async function nextLine(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!lines.length) {
    check(Date.now() < deadline, 'no answer from the test on stdin');
    await new Promise((resolve) => {
      waiter = resolve;
      setTimeout(resolve, 200);
    });
  }
  return lines.shift();
}

/** The person count, its frame id and the canvas's non-background pixels, read in one
 * task of the page, so they belong to the same drawn frame. */
function sample(page) {
  return page.evaluate((bg) => {
    const count = document.getElementById('person-count');
    const canvas = document.getElementById('view');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let drawn = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      if (pixels[i] !== bg[0] || pixels[i + 1] !== bg[1] || pixels[i + 2] !== bg[2]) drawn += 1;
    }
    return {
      count: Number(count.textContent),
      frameId: count.dataset.frameId,
      drawn,
      received: Number(canvas.dataset.framesReceived || 0),
    };
  }, BACKGROUND);
}

const connectionState = (page) => page.locator('#connection').getAttribute('data-state');

async function skeletonsAreDrawn(page, label) {
  // Every sample must agree with the recording's frames; wait for one with people.
  // Trajectories are switched off meanwhile, so whatever is drawn is the people: the
  // canvas must be blank exactly when the frame has nobody.
  const trajectories = page.locator('#show-trajectories');
  await trajectories.uncheck();
  await page.evaluate(() => new Promise((done) => {
    requestAnimationFrame(() => requestAnimationFrame(done)); // drawn without them
  }));
  let withPeople = null;
  let samples = 0;
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline && !(withPeople && samples >= 10)) {
    const s = await sample(page);
    if (s.frameId !== '') {
      samples += 1;
      check(s.frameId in EXPECTED, `${label}: frame ${s.frameId} is not in the recording`);
      check(
        s.count === EXPECTED[s.frameId],
        `${label}: frame ${s.frameId} shows ${s.count} people, the stream had ${EXPECTED[s.frameId]}`,
      );
      check(s.count > 0 || s.drawn === 0, `${label}: frame ${s.frameId} has nobody, yet `
        + `${s.drawn} pixels are drawn`);
      if (s.count > 0 && !withPeople) withPeople = s;
    }
    await page.waitForTimeout(100);
  }
  check(withPeople, `${label}: no frame with people was drawn`);
  check(withPeople.drawn > 500, `${label}: ${withPeople.count} people but the canvas is blank`);
  await trajectories.check();
  step(`${label}: ${samples} frames checked; frame ${withPeople.frameId}: ${withPeople.count} `
    + `people, ${withPeople.drawn} pixels drawn`);
}

const userDataDir = mkdtempSync(join(tmpdir(), 'wdp-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: env('WDP_CHROMIUM'),
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
  });
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  console.log('START');
  const BASE = await nextLine(60000);
  check(BASE.startsWith('http://'), `unexpected answer to START: ${BASE}`);

  // Sign-in: the token moves from the address bar to sessionStorage.
  await page.goto(`${BASE}/?token=${encodeURIComponent(TOKEN)}`);
  await page.waitForFunction(() => document.getElementById('connection').dataset.state === 'connected',
    null, { timeout: 15000 });
  check(!page.url().includes('token'), `the token is still in the address bar: ${page.url()}`);
  check(await page.evaluate(() => sessionStorage.getItem('wdp.token')) === TOKEN,
    'the token is not kept in sessionStorage');
  step('signed in; token removed from the address bar');

  await skeletonsAreDrawn(page, 'first run');

  // The fall: a prominent alert whose button has the keyboard focus; Enter acknowledges.
  await page.locator('#fall-alert').waitFor({ state: 'visible', timeout: 20000 });
  const alertText = await page.locator('#fall-alert-text').textContent();
  check(/Person #\d+/.test(alertText), `alert text: ${alertText}`);
  check(await page.evaluate(() => document.activeElement.id) === 'fall-ack',
    'the acknowledge button does not have the focus');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-fall.png'), fullPage: true });
  await page.keyboard.press('Enter');
  await page.locator('#fall-alert').waitFor({ state: 'hidden', timeout: 5000 });
  step(`fall alert raised (${alertText.trim()}) and acknowledged with the keyboard`);

  // Dense pose, switched on with the keyboard: the pose subscription is updated in place
  // and the frames then carry dense pose, drawn over the people.
  await page.locator('#show-dense-pose').focus();
  await page.keyboard.press('Space');
  await page.waitForFunction(() => Number(document.getElementById('view').dataset.densePose) > 0,
    null, { timeout: 15000 });
  const serverErrors = await page.locator('#feed li', { hasText: 'server:' }).count();
  check(serverErrors === 0, 'the server answered the dashboard with an error');
  step('dense pose switched on: frames carry it and it is drawn');
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

  // What one draw costs: the latest real frame (REST), dense pose and all, drawn 200
  // times on a canvas of the camera's size. Under 33 ms (one frame at 30 FPS) it cannot
  // hold the page back, since at most one draw happens per animation frame.
  const cost = await page.evaluate(async (token) => {
    const { drawFrame } = await import('/dashboard/render.js');
    const environment = document.getElementById('environment').value;
    const response = await fetch(`/api/v1/pose/latest?environment_id=${environment}`,
      { headers: { Authorization: `Bearer ${token}` } });
    const frame = (await response.json()).data;
    const canvas = document.createElement('canvas');
    canvas.width = 1280;
    canvas.height = 720;
    const ctx = canvas.getContext('2d');
    const show = { skeletons: true, boxes: true, labels: true, trajectories: true, densePose: true };
    const t0 = performance.now();
    for (let i = 0; i < 200; i += 1) drawFrame(ctx, frame, [], show);
    ctx.getImageData(0, 0, 1, 1); // wait for the drawing to finish
    return {
      ms: (performance.now() - t0) / 200,
      persons: frame.persons.length,
      dense: frame.persons.filter((p) => p.dense_pose).length,
    };
  }, TOKEN);
  check(cost.ms < 33, `one draw takes ${cost.ms.toFixed(2)} ms`);
  step(`one draw of a frame of ${cost.persons} people (${cost.dense} with dense pose): `
    + `${cost.ms.toFixed(2)} ms`);

  // Server restart on the same port: the page reconnects and the stream resumes.
  await page.evaluate(() => {
    window.seenStates = [];
    const badge = document.getElementById('connection');
    new MutationObserver(() => window.seenStates.push(badge.dataset.state))
      .observe(badge, { attributes: true, attributeFilter: ['data-state'] });
  });
  const before = await sample(page);
  const opensBefore = Number(await page.locator('#connection').getAttribute('data-opens'));
  console.log('RESTART');
  check((await nextLine(60000)) === 'RESTARTED', 'unexpected answer to RESTART');
  await page.waitForFunction((n) => {
    const badge = document.getElementById('connection');
    return badge.dataset.state === 'connected' && Number(badge.dataset.opens) > n;
  }, opensBefore, { timeout: 30000 });
  const seen = await page.evaluate(() => window.seenStates);
  check(seen.includes('reconnecting'), `states during the restart: ${seen}`);
  await page.waitForFunction((n) => Number(document.getElementById('view').dataset.framesReceived) > n + 5,
    before.received, { timeout: 15000 });
  step(`reconnected after the restart (states ${[...new Set(seen)].join(' -> ')}); stream resumed`);
  await skeletonsAreDrawn(page, 'after restart');

  // A token that expires while connected: token_expired, close 4002, a clear message
  // and a form to paste a new token, which connects again.
  console.log('SHORT_TOKEN');
  const shortToken = await nextLine(10000);
  const second = await context.newPage();
  await second.goto(`${BASE}/?token=${encodeURIComponent(shortToken)}`);
  await second.waitForFunction(() => document.getElementById('connection').dataset.state === 'connected',
    null, { timeout: 15000 });
  await second.locator('#sign-in').waitFor({ state: 'visible', timeout: 15000 });
  const message = await second.locator('#sign-in-message').textContent();
  check(/expired/i.test(message), `message after expiry: ${message}`);
  check(await connectionState(second) === 'expired', 'the connection is not marked expired');
  check(await second.evaluate(() => document.activeElement.id) === 'token-input',
    'the token field does not have the focus');
  await second.keyboard.type(TOKEN);
  await second.keyboard.press('Enter');
  await second.waitForFunction(() => document.getElementById('connection').dataset.state === 'connected',
    null, { timeout: 15000 });
  step(`expired while connected: "${message.trim()}"; a pasted token connects again`);

  // A token that had already expired when the page opened.
  const third = await context.newPage();
  await third.goto(`${BASE}/?token=${encodeURIComponent(EXPIRED_TOKEN)}`);
  await third.locator('#sign-in').waitFor({ state: 'visible', timeout: 15000 });
  const stale = await third.locator('#sign-in-message').textContent();
  check(/expired/i.test(stale), `message for an expired token: ${stale}`);
  step('an already expired token shows the message');

  check(!errors.length, `errors in the page: ${errors.join('; ')}`);
  console.log('OK');
} catch (error) {
  console.log(`FAIL: ${error.message.split('\n')[0]}`);
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
  stdin.close();
}
