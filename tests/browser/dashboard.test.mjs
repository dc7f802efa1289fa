// www/dashboard.html in headless Chromium against the real gateway under
// load: a steady publisher, reading subscribers, and one subscriber that
// never reads (so frames are dropped). The values the page plots must track
// /metrics, and its screenshot must not be blank. With authentication on,
// the page reads the stream with an admin token from its URL's fragment,
// and says why when it has none.
//
//   STREAMGATE_BIN=build/streamgate STREAMGATE_WWW=www node --test tests/browser/dashboard.test.mjs
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, publish, request, sleep, startGateway, waitFor } from './lib/gateway.mjs';
import { launchChromium } from './lib/browser.mjs';
import { colourStats, decodePng } from './lib/png.mjs';
import { mint, now } from '../integration/lib/jwt.mjs';

const LIMIT = { timeout: 90000 };
const ARTIFACTS = path.join(ROOT, 'tests/artifacts');
const VIEWPORT = { width: 1280, height: 1100 };
const SECRET = 'dashboard-test-secret-0123456789';

let browser;
const closers = [];
const errors = [];
const requests = []; // [page origin, URL asked]

after(async () => {
  for (const close of closers.reverse()) await close();
  await browser?.close();
  assert.deepEqual(errors, [], 'no uncaught errors on the pages');
  assert.ok(requests.length > 0);
  assert.deepEqual(requests.filter(([origin, url]) => new URL(url).origin !== origin), [], 'nothing fetched from elsewhere');
});

// GET /metrics as {name: number} (unlabelled samples).
async function metrics(base, headers = {}) {
  const res = await request(base, { path: '/metrics', headers });
  assert.equal(res.status, 200, res.text);
  return Object.fromEntries(res.text.split('\n').filter((l) => /^\w+ \S+$/.test(l)).map((l) => {
    const [k, v] = l.split(' ');
    return [k, Number(v)];
  }));
}

// A subscriber that reads (n of them), and one that never does.
function subscribers(gw, channel, n) {
  const ctl = new AbortController();
  for (let i = 0; i < n; i++)
    fetch(`${gw.url}/channels/${channel}`, { signal: ctl.signal }).then((r) => r.body.pipeTo(new WritableStream())).catch(() => {});
  const stalled = net.connect(gw.port, '127.0.0.1', () => {
    stalled.write(`GET /channels/${channel} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    stalled.pause();
  });
  stalled.on('error', () => {});
  return () => { ctl.abort(); stalled.destroy(); };
}

// Publishes ~50 messages a second of `bytes` each until stop() is called.
function steadyLoad(gw, channel, bytes) {
  let running = true;
  const body = 'x'.repeat(bytes);
  const done = (async () => {
    while (running) {
      await publish(gw.url, channel, body);
      await sleep(20);
    }
  })().catch((err) => err); // a failed publish ends the load; stop() reports it
  return async () => {
    running = false;
    const err = await done;
    if (err) throw err;
  };
}

async function openDashboard(url) {
  browser ??= await launchChromium();
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('request', (req) => requests.push([new URL(url).origin, req.url()]));
  await page.goto(url);
  return page;
}

const dashboard = (page) => page.evaluate(() => window.__dashboard);

// Saves a screenshot in tests/artifacts/ and asserts it is not blank.
async function screenshotCheck(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file });
  const img = decodePng(fs.readFileSync(file));
  assert.deepEqual([img.width, img.height], [VIEWPORT.width, VIEWPORT.height]);
  const { distinct, dominantShare } = colourStats(img);
  assert.ok(distinct >= 300, `${name}: only ${distinct} colours, the page looks blank`);
  assert.ok(dominantShare < 0.8, `${name}: one colour covers ${(dominantShare * 100).toFixed(1)}%`);
}

test('under load, the plotted values track /metrics, and the page is not blank', LIMIT, async () => {
  const gw = await startGateway({ args: ['--queue-bytes', '32768', '--slow-policy', 'drop_oldest'] });
  closers.push(async () => gw.stop());
  const channel = 'dash-load';
  const stopSubs = subscribers(gw, channel, 3);
  closers.push(async () => stopSubs());
  await waitFor(async () => (await metrics(gw.url)).streamgate_connections === 4, { what: '4 subscribers' });
  const stopLoad = steadyLoad(gw, channel, 16384);
  closers.push(stopLoad); // also when an assertion below fails: the load must not run for ever
  const page = await openDashboard(`${gw.url}/dashboard.html`);
  await waitFor(async () => (await dashboard(page)).snapshots >= 3, { what: '3 snapshots on the page' });
  await waitFor(async () => (await metrics(gw.url)).streamgate_frames_dropped_total > 0,
    { what: 'frames dropped for the subscriber that does not read', timeoutMs: 20000 });

  // a snapshot taken between two reads of /metrics lies between them
  const before = await metrics(gw.url);
  const seen = (await dashboard(page)).snapshots;
  await waitFor(async () => (await dashboard(page)).snapshots >= seen + 2, { what: 'two more snapshots' });
  const d = await dashboard(page);
  const afterM = await metrics(gw.url);
  const between = (field, sample) => {
    assert.ok(before[sample] <= d.latest[field] && d.latest[field] <= afterM[sample],
      `${field} ${d.latest[field]} within /metrics' ${before[sample]}..${afterM[sample]}`);
  };
  between('published_total', 'streamgate_messages_published_total');
  between('frames_dropped_total', 'streamgate_frames_dropped_total');
  assert.ok(d.latest.frames_dropped_total > 0);
  // streams: the 4 subscribers and the dashboard's own
  assert.equal(d.latest.connections, 5);
  assert.equal(afterM.streamgate_connections, 5);
  // per transport: the dashboard's own stream is SSE, the subscribers chunked
  assert.deepEqual(d.latest.connections_by_transport, { chunked: 4, sse: 1, ws: 0, longpoll: 0, ndjson: 0 });
  assert.deepEqual(d.plotted.connections, d.latest.connections_by_transport);

  // the rates plotted are the counters' differences over the snapshots' times
  const secs = (d.latest.time_ms - d.previous.time_ms) / 1000;
  const rate = (field) => (d.latest[field] - d.previous[field]) / secs;
  assert.equal(d.plotted['publishes/s'], rate('published_total'));
  assert.equal(d.plotted['dropped frames/s'], rate('frames_dropped_total'));
  assert.equal(d.plotted['slow disconnects/s'], 0);
  // ... and agree with /metrics over a longer window (the publisher is steady)
  const m1 = await metrics(gw.url);
  const t1 = Date.now();
  await sleep(2000);
  const m2 = await metrics(gw.url);
  const measured = (m2.streamgate_messages_published_total - m1.streamgate_messages_published_total) / ((Date.now() - t1) / 1000);
  const plottedRate = (await dashboard(page)).plotted['publishes/s'];
  assert.ok(measured > 10, `the publisher is running (${measured}/s)`);
  assert.ok(Math.abs(plottedRate - measured) <= measured * 0.5, `publishes/s plotted ${plottedRate}, /metrics ${measured}`);

  // deliveries, lag and the top channels, as the gateway counts them
  assert.equal(d.plotted['deliveries/s'], rate('delivered_total'));
  assert.ok(d.plotted['deliveries/s'] > 0);
  assert.deepEqual([d.plotted.p50, d.plotted.p99], [d.latest.delivery_lag_ms.p50, d.latest.delivery_lag_ms.p99]);
  assert.ok(d.plotted.p50 > 0 && d.plotted.p50 <= d.plotted.p99);
  assert.deepEqual(d.plotted.top, [{ label: channel, value: 4 }]);
  assert.equal(await page.textContent('#note-lag'), 'publish to first byte written');
  assert.equal(await page.textContent('#state'), 'open');
  assert.equal(await page.textContent('#tiles [data-field="streams"]'), '5');

  await screenshotCheck(page, 'dashboard.png');
  // and the connections chart itself has lines on it, not just its frame
  const inked = await page.evaluate(() => {
    const c = document.getElementById('chart-connections');
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i]) n++;
    return n;
  });
  assert.ok(inked > 2000, `the connections chart has ${inked} drawn pixels`);

  await page.context().close();
});

test('with authentication: an admin token in the fragment works; without one the page says why', LIMIT, async () => {
  const gw = await startGateway({ args: ['--auth-jwt-alg', 'HS256', '--auth-jwt-key', SECRET] });
  closers.push(async () => gw.stop());
  const token = mint('HS256', SECRET, { sub: 'ops', exp: now() + 600, streamgate: { admin: true } });
  const page = await openDashboard(`${gw.url}/dashboard.html#access_token=${token}`);
  await waitFor(async () => (await dashboard(page)).snapshots >= 2, { what: 'snapshots with the admin token' });
  assert.equal((await dashboard(page)).latest.connections, 1);
  await page.context().close();

  const refused = await openDashboard(`${gw.url}/dashboard.html`);
  await waitFor(async () => (await dashboard(refused)).state === 'error', { what: 'the page to show the refusal' });
  assert.equal(await refused.textContent('#state-note'), '401 token_required: a token is needed to read /metrics/stream');
  assert.equal((await dashboard(refused)).snapshots, 0);
  await refused.context().close();
});


test('the fields the gateway does not count yet are plotted once they come (a stubbed stream)', LIMIT, async () => {
  const gw = await startGateway();
  closers.push(async () => gw.stop());
  const base = {
    workers: 1, connections: 6, open_connections: 7, channels: 2, frames_dropped_total: 0, slow_disconnects_total: 0,
    channels_evicted_total: 0, ws_ping_timeouts_total: 0, rate_limited_total: 0, ip_limit_refused_total: 0,
    messages_live: 0, frames_live: 0,
  };
  const snaps = [
    { ...base, time_ms: 1000000, published_total: 100, delivered_total: 400, delivery_lag_ms: { p50: 0.4, p99: 3 } },
    {
      ...base, time_ms: 1002000, published_total: 140, delivered_total: 560, delivery_lag_ms: { p50: 0.5, p99: 7.5 },
      connections_by_transport: { ws: 3, sse: 2, longpoll: 1, chunked: 0, ndjson: 0 },
      top_channels: [{ channel: 'news', subscribers: 4 }, { channel: 'sports', subscribers: 2 }],
    },
  ];
  browser ??= await launchChromium();
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('pageerror', (err) => errors.push(err.message));
  await page.route('**/metrics/stream*', (route) => route.fulfill({
    status: 200,
    headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' },
    body: snaps.map((s) => `data: ${JSON.stringify({ connections_by_transport: null, top_channels: null, ...s })}\n\n`).join(''),
  }));
  await page.goto(`${gw.url}/dashboard.html`);
  await waitFor(async () => (await dashboard(page))?.snapshots >= 2, { what: 'the two stubbed snapshots' });
  const { plotted } = await dashboard(page);
  assert.deepEqual(plotted.connections, { ws: 3, sse: 2, longpoll: 1, chunked: 0, ndjson: 0 });
  assert.equal(plotted['publishes/s'], 20);
  assert.equal(plotted['deliveries/s'], 80);
  assert.deepEqual([plotted.p50, plotted.p99], [0.5, 7.5]);
  assert.deepEqual(plotted.top, [{ label: 'news', value: 4 }, { label: 'sports', value: 2 }]);
  assert.equal(await page.textContent('#note-top'), '');
  assert.equal(await page.textContent('#note-rates'), '');
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await screenshotCheck(page, 'dashboard-all-fields.png');
  await context.close();
});
