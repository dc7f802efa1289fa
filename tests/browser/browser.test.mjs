// The www/ demo in a real browser: headless Chromium (Debian's package)
// driven by playwright-core, against the real gateway on 127.0.0.1.
//
//   STREAMGATE_BIN=build/streamgate STREAMGATE_WWW=www node --test tests/browser/browser.test.mjs
//
// Pages on EventSource, WebSocket and long-poll and a `curl -N` share one
// channel; what a page posts reaches all of them, byte for byte. Then the
// gateway restarts under them: each page reconnects with its last id, is
// told about the gap, and shows a message published before it came back
// exactly once. Screenshots go to tests/artifacts/ and must not be blank.
// Every wait is bounded; the tests end by themselves.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, exited, publish, sleep, startGateway, subscribers, waitFor, withTimeout } from './lib/gateway.mjs';
import { launchChromium } from './lib/browser.mjs';
import { colourStats, decodePng } from './lib/png.mjs';

const ARTIFACTS = path.join(ROOT, 'tests/artifacts');
const CHANNEL = `browser-${process.pid}`;
// the pages' first reconnect delay: long enough that a message published
// right after the restart is surely in history before any page is back
const RECONNECT_MS = 2500;
const LIMIT = { timeout: 90000 };
const TRANSPORTS = ['sse', 'ws', 'longpoll'];

// UTF-8 beyond ASCII, HTML that must show as text, quotes for the shell
const M1 = `héllo from the EventSource page <b>&amp;</b> "quoted" 'single' ✓ ${CHANNEL}`;
const M2 = `from the WebSocket page — Привет, Ωμέγα ½ ${CHANNEL}`;
const M3 = `published while the pages were away ${CHANNEL}`;
const M4 = `from the long-poll page, after the restart ${CHANNEL}`;

let gw;
let browser;
let curl;
const curlOut = [];
const pages = {}; // transport -> page, all on CHANNEL
const ids = {}; // M1.. -> id the gateway gave
const seen = { requests: [], errors: [] };

// ---------------------------------------------------------------- helpers

async function openPage(url, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.on('pageerror', (err) => seen.errors.push(`${url}: ${err.message}`));
  page.on('request', (req) => seen.requests.push(req.url()));
  page.on('websocket', (ws) => seen.requests.push(ws.url()));
  await page.goto(gw.url + url);
  return page;
}

// Polls get() until it deep-equals want, then asserts it (so a timeout
// shows the difference).
async function waitEqual(get, want, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let got;
  for (;;) {
    got = await get();
    try {
      assert.deepEqual(got, want);
      return got;
    } catch (err) {
      if (Date.now() > deadline) {
        err.message = `timed out after ${timeoutMs} ms waiting for ${what}\n${err.message}`;
        throw err;
      }
    }
    await sleep(50);
  }
}

const texts = (page) => page.$$eval('#messages .msg-data', (els) => els.map((e) => e.textContent));
const messageIds = (page) => page.$$eval('#messages .msg', (els) => els.map((e) => e.dataset.id));
const connection = (page) => page.evaluate(() => ({
  state: document.getElementById('state').dataset.state,
  note: document.getElementById('state-note').textContent,
  lastId: document.getElementById('last-id').textContent,
}));
const stateOf = async (page) => (await connection(page)).state;

// Posts text from page with the composer; returns the id from the page's
// own "Sent over VIA · id ID · delivered to N subscribers" line.
async function postFrom(page, text, { via, delivered, enter = false }) {
  await page.fill('#composer-text', text);
  if (enter) await page.press('#composer-text', 'Enter');
  else await page.click('#send');
  const re = new RegExp(`^Sent over ${via} · id (\\d+-\\d+) · delivered to ${delivered} subscribers?$`);
  const m = await waitFor(async () => re.exec(await page.textContent('#send-result')), {
    what: `"${re.source}" on the page`,
  });
  assert.equal(await page.inputValue('#composer-text'), '', 'the message box is cleared after sending');
  return m[1];
}

function runCurl(line) {
  const [cmd, ...args] = line.split(' ');
  assert.equal(cmd, 'curl');
  curl = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  curl.stdout.on('data', (d) => curlOut.push(d));
}

async function screenshotCheck(page, file, viewport) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const where = path.join(ARTIFACTS, file);
  await page.screenshot({ path: where });
  const img = decodePng(fs.readFileSync(where));
  assert.deepEqual([img.width, img.height], [viewport.width, viewport.height], `${file}: size`);
  const { distinct, dominantShare } = colourStats(img);
  // a blank page has one colour, a line of text on it ~200 colours on 99.9% background;
  // this page, with its cards, badges and text, has thousands on well under 75%
  assert.ok(distinct >= 500, `${file}: only ${distinct} colours, the page looks blank`);
  assert.ok(dominantShare < 0.75, `${file}: one colour covers ${(dominantShare * 100).toFixed(1)}% of it`);
}

// ---------------------------------------------------------------- setup

before(async () => {
  browser = await launchChromium();
  gw = await startGateway();
});

after(async () => {
  if (curl && curl.exitCode === null && curl.signalCode === null) curl.kill('SIGKILL');
  if (browser) await withTimeout(browser.close(), 15000, 'Chromium to close').catch(() => {});
  if (gw) await gw.stop().catch(() => gw.kill());
});

// ---------------------------------------------------------------- tests

test('a message posted on one page reaches the EventSource, WebSocket and long-poll pages and curl -N, byte-exact', LIMIT, async () => {
  for (const t of TRANSPORTS) pages[t] = await openPage(`/?channel=${CHANNEL}&transport=${t}&reconnect_ms=${RECONNECT_MS}`);
  for (const t of TRANSPORTS) {
    await waitEqual(() => stateOf(pages[t]), 'open', `the ${t} page to open`);
    assert.equal(await pages[t].isChecked(`#t-${t}`), true, `${t} is the selected transport`);
    assert.equal(await pages[t].textContent('#feed-channel'), CHANNEL);
  }

  // the copy-paste line the page offers, run as written
  const line = await pages.sse.textContent('#curl-stream');
  assert.equal(line, `curl -N ${gw.url}/channels/${CHANNEL}`);
  runCurl(line);
  await waitEqual(() => subscribers(gw.url, CHANNEL), 4, 'three pages and curl subscribed');

  // from the EventSource page, over HTTP POST
  assert.equal(await pages.sse.isChecked('#via-post'), true);
  assert.equal(await pages.sse.isDisabled('#via-ws'), true, 'no WebSocket to send with on the EventSource page');
  ids.M1 = await postFrom(pages.sse, M1, { via: 'HTTP POST', delivered: 4 });
  for (const t of TRANSPORTS) await waitEqual(() => texts(pages[t]), [M1], `M1 on the ${t} page`);

  // from the WebSocket page, over its own socket, with the Enter key
  await waitEqual(() => subscribers(gw.url, CHANNEL), 4, 'the long-poll page polling again');
  assert.equal(await pages.ws.isChecked('#via-ws'), true, 'the WebSocket page sends over its socket');
  ids.M2 = await postFrom(pages.ws, M2, { via: 'WebSocket', delivered: 4, enter: true });

  for (const t of TRANSPORTS) {
    const page = pages[t];
    await waitEqual(() => texts(page), [M1, M2], `M1 and M2 on the ${t} page`);
    assert.deepEqual(await messageIds(page), [ids.M1, ids.M2], `${t}: ids`);
    const meta = await page.$$eval('#messages .msg', (els) => els.map((e) => ({
      channel: e.dataset.channel,
      shownChannel: e.querySelector('.msg-channel').textContent,
      shownId: e.querySelector('.msg-id').textContent,
      time: e.querySelector('.msg-time').textContent,
      mine: e.classList.contains('mine'),
    })));
    for (const [i, m] of meta.entries()) {
      assert.equal(m.channel, CHANNEL);
      assert.equal(m.shownChannel, `#${CHANNEL}`);
      assert.equal(m.shownId, [ids.M1, ids.M2][i]);
      assert.match(m.time, /^\d\d:\d\d:\d\d\.\d\d\d$/, 'arrival time');
    }
    assert.deepEqual(meta.map((m) => m.mine), [t === 'sse', t === 'ws'], `${t}: own messages marked`);
    assert.equal((await connection(page)).lastId, ids.M2, `${t}: last id`);
    // the text is shown as text: the <b> in M1 is not markup
    assert.equal(await page.locator('#messages .msg-data b').count(), 0);
  }

  const want = Buffer.from(`${M1}\n${M2}\n`, 'utf8');
  await waitFor(() => Buffer.concat(curlOut).length >= want.length, { what: `${want.length} bytes from curl` });
  assert.deepEqual(Buffer.concat(curlOut), want, "curl's output, byte for byte");
});

test('the gateway restarts under the pages: they reconnect, the gap is signalled, a message from the outage shows once', LIMIT, async () => {
  const port = gw.port;
  await gw.stop();

  // curl's response ended cleanly, with nothing more than it had
  assert.deepEqual(await withTimeout(exited(curl), 10000, 'curl to exit after the gateway stopped'), { code: 0, signal: null });
  assert.deepEqual(Buffer.concat(curlOut), Buffer.from(`${M1}\n${M2}\n`, 'utf8'));

  for (const t of TRANSPORTS) await waitEqual(() => stateOf(pages[t]), 'reconnecting', `the ${t} page to notice`, 10000);

  gw = await startGateway({ listen: `127.0.0.1:${port}` });
  const m3 = await publish(gw.url, CHANNEL, M3);
  ids.M3 = m3.id;
  assert.equal(m3.subscribers, 0, 'M3 was published before any page came back, so it can only come from history');

  for (const t of TRANSPORTS) {
    const page = pages[t];
    await waitEqual(() => texts(page), [M1, M2, M3], `M3 once on the ${t} page`, 30000);
    const c = await connection(page);
    assert.equal(c.state, 'open', `${t}: state`);
    assert.equal(c.note, `resumed from id ${ids.M2} · gap signalled (restarted)`, `${t}: state note`);
    const gaps = await page.$$eval('#messages .divider.gap', (els) => els.map((e) => e.textContent));
    assert.equal(gaps.length, 1, `${t}: one gap shown in the list`);
    assert.match(gaps[0], new RegExp(`^Gap signalled: the gateway restarted: messages after id ${ids.M2} may be lost; history now starts at ${ids.M3}$`));
    const log = await page.$$eval('#log li', (els) => els.map((e) => e.textContent));
    assert.ok(log.some((l) => l.includes('gap signalled')), `${t}: gap in the connection log`);
  }
  // nothing arrives twice a little later either
  await sleep(1000);
  for (const t of TRANSPORTS) {
    assert.deepEqual(await texts(pages[t]), [M1, M2, M3], `${t}: after a second`);
    assert.deepEqual(await messageIds(pages[t]), [ids.M1, ids.M2, ids.M3]);
  }

  // and live again: the long-poll page posts
  await waitEqual(() => subscribers(gw.url, CHANNEL), 3, 'all three pages subscribed to the new gateway');
  ids.M4 = await postFrom(pages.longpoll, M4, { via: 'HTTP POST', delivered: 3 });
  for (const t of TRANSPORTS) await waitEqual(() => texts(pages[t]), [M1, M2, M3, M4], `M4 on the ${t} page`);
});

test('switching the transport live resumes from the last id: nothing lost, nothing twice', LIMIT, async () => {
  const channel = `${CHANNEL}-switch`;
  const page = await openPage(`/?channel=${channel}&transport=sse`);
  await waitEqual(() => stateOf(page), 'open', 'the page to open');
  const sent = [];
  for (const t of ['ws', 'longpoll', 'sse', 'ws', 'sse']) {
    sent.push(`before switching to ${t}`);
    await publish(gw.url, channel, sent.at(-1));
    await waitEqual(() => texts(page), sent, `${sent.at(-1)} shown`);
    const { lastId } = await connection(page);
    await page.click(`label[for="t-${t}"]`);
    // published while the page is between two connections
    sent.push(`while switching to ${t}`);
    await publish(gw.url, channel, sent.at(-1));
    await waitEqual(async () => (await connection(page)).note.startsWith(`resumed from id ${lastId}`), true,
      `the ${t} connection to resume from ${lastId}`);
    assert.equal(await stateOf(page), 'open');
    await waitEqual(() => texts(page), sent, `${sent.at(-1)} shown once`);
    assert.ok(new URL(page.url()).searchParams.get('transport') === t, 'the address says the transport');
  }
  await sleep(500);
  assert.deepEqual(await texts(page), sent);
  const shown = await messageIds(page);
  assert.equal(new Set(shown).size, shown.length, 'no id twice');
  await page.context().close();
});

test('the examples page runs firehose, clock and delay over a fetch stream, EventSource and WebSocket', LIMIT, async () => {
  const page = await openPage('/examples.html');
  const card = (name) => page.locator(`[data-example="${name}"]`);
  const lines = (name) => card(name).locator('.ex-line').allTextContents();
  const state = (name) => card(name).locator('.pill').getAttribute('data-state');
  const firehose = ['HELLO', 'CHUNKY MONKEY', 'CHUNKY MONKEY', 'CHUNKY MONKEY', 'GOODBYE!'];

  await card('firehose').locator('input[name="count"]').fill('3');
  await card('firehose').locator('input[name="interval_ms"]').fill('20');
  await card('clock').locator('input[name="count"]').fill('2');
  await card('clock').locator('input[name="interval_ms"]').fill('100');
  await card('delay').locator('input[name="seconds"]').fill('0');
  const cmd = await card('firehose').locator('code.cmd').textContent();
  assert.equal(cmd, `curl -N '${gw.url}/examples/firehose?count=3&interval_ms=20'`);

  for (const t of ['fetch', 'sse', 'ws']) {
    await page.click(`label[for="ex-${t}"]`);
    for (const name of ['firehose', 'clock', 'delay']) await card(name).locator('button[type="submit"]').click();
    for (const name of ['firehose', 'clock', 'delay'])
      await waitEqual(() => state(name), 'ended', `${name} over ${t} to end`);
    assert.deepEqual(await lines('firehose'), firehose, `firehose over ${t}`);
    const clock = await lines('clock');
    assert.equal(clock.length, 2, `clock over ${t}: ${clock}`);
    for (const l of clock) assert.match(l, /^\d\d:\d\d:\d\d$/);
    assert.deepEqual(await lines('delay'), ['waited 0 s'], `delay over ${t}`);
  }
  await screenshotCheck(page, 'browser-examples.png', { width: 1280, height: 800 });
  await page.context().close();
});

test('screenshots at desktop and phone width are not blank; the pages fit a phone, are labelled, and fetch nothing from elsewhere', LIMIT, async () => {
  // desktop: the EventSource page, with the whole conversation on it
  await screenshotCheck(pages.sse, 'browser-desktop.png', { width: 1280, height: 800 });
  const visible = await pages.sse.evaluate((text) => {
    const el = [...document.querySelectorAll('#messages .msg-data')].find((e) => e.textContent === text);
    if (!el) return 'missing';
    el.scrollIntoView({ block: 'nearest' });
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom <= innerHeight && r.right <= innerWidth && getComputedStyle(el).visibility === 'visible';
  }, M4);
  assert.equal(visible, true, 'the last message is on screen');

  const phone = { width: 390, height: 844 };
  for (const [url, file] of [[`/?channel=${CHANNEL}&transport=ws`, 'browser-phone.png'], ['/examples.html', 'browser-examples-phone.png']]) {
    const page = await openPage(url, phone);
    if (file === 'browser-phone.png') {
      await waitEqual(() => stateOf(page), 'open', 'the phone page to open');
      await waitEqual(() => texts(page), [M3, M4], 'the history on the phone page');
    }
    const layout = await page.evaluate(() => {
      const named = (e) => e.labels?.length > 0 || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') ||
        (e.tagName === 'BUTTON' && e.textContent.trim() !== '');
      const controls = [...document.querySelectorAll('input, textarea, select, button')];
      return {
        scrollWidth: document.documentElement.scrollWidth,
        lang: document.documentElement.lang,
        h1: document.querySelectorAll('h1').length,
        unnamed: controls.filter((e) => !named(e)).map((e) => e.outerHTML.slice(0, 80)),
        external: [...document.querySelectorAll('[src], link[href]')].map((e) => e.src || e.href)
          .filter((u) => !u.startsWith(location.origin) && !u.startsWith('data:')),
      };
    });
    assert.deepEqual(layout, { scrollWidth: phone.width, lang: 'en', h1: 1, unnamed: [], external: [] }, `${url} at 390 px`);
    await screenshotCheck(page, file, phone);
    await page.context().close();
  }

  // every page load, fetch, EventSource and WebSocket went to this gateway
  const local = [`http://127.0.0.1:${gw.port}/`, `ws://127.0.0.1:${gw.port}/`, 'data:'];
  assert.deepEqual(seen.requests.filter((u) => !local.some((p) => u.startsWith(p))), [], 'requests elsewhere');
  assert.ok(seen.requests.length > 10);
  assert.deepEqual(seen.errors, [], 'uncaught errors in the pages');
});

test('the gateway exits 0 on SIGTERM with the pages still connected', LIMIT, async () => {
  for (const t of TRANSPORTS) assert.equal(await stateOf(pages[t]), 'open', `${t} page connected`);
  const stopping = gw;
  gw = null;
  await stopping.stop(); // under ASan this also fails on a leak (exit 86)
  for (const t of TRANSPORTS) await waitEqual(() => stateOf(pages[t]), 'reconnecting', `the ${t} page to notice`, 10000);
});
