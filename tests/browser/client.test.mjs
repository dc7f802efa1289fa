// streamgate.js, the browser client, in headless Chromium against the real
// gateway: a page imports /streamgate.js from the gateway and receives a
// numbered sequence published by the test at a steady rate, while
//   - the gateway is killed (SIGKILL) and started again on the same port;
//   - a TCP proxy between the page and the gateway cuts every connection
//     mid-stream, then lets the page in again;
//   - the proxy refuses WebSocket upgrades, so the client falls back to
//     long-polling (and is cut mid-stream there too).
// Each time the page must end with exactly the published sequence: nothing
// lost, nothing repeated, in order; gaps are reported exactly where the
// gateway lost history (the restart), and nowhere else.
//
//   STREAMGATE_BIN=build/streamgate STREAMGATE_WWW=www node --test tests/browser/client.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import net from 'node:net';
import { publish, request, sleep, startGateway, waitFor } from './lib/gateway.mjs';
import { launchChromium } from './lib/browser.mjs';
import { mint, now } from '../integration/lib/jwt.mjs';

const LIMIT = { timeout: 90000 };
const COUNT = 300;
const EVERY_MS = 10; // the publisher's pace: one message per 10 ms
const CLIENT = { reconnectMs: 100, maxReconnectMs: 1000 };

let gw;
let browser;
const errors = [];
const proxies = []; // closed in after(), also when a test failed half-way

// A TCP proxy to port that can cut every connection it carries and, with
// refuseUpgrades, drops any request asking for a WebSocket upgrade (what a
// proxy that does not pass WebSockets does).
function tcpProxy(port, { refuseUpgrades = false } = {}) {
  const pairs = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    const pair = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (d) => {
      if (refuseUpgrades && /^upgrade:\s*websocket/im.test(d.toString('latin1'))) return drop();
      upstream.write(d);
    });
    upstream.pipe(client);
  });
  const proxy = new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      const n = pairs.size;
      for (const [a, b] of [...pairs]) { a.destroy(); b.destroy(); }
      pairs.clear();
      return n;
    },
    close: () => new Promise((done) => { for (const [a, b] of pairs) { a.destroy(); b.destroy(); } server.close(() => done()); }),
  })));
  proxies.push(proxy);
  return proxy;
}

// Opens a page of origin (the gateway or a proxy), imports /streamgate.js
// from it and connects with opts; the page records every event on
// window.__sg. Returns the page.
async function clientPage(origin, opts, { blockWebSocket = false } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${origin}/`);
  await page.evaluate(async ({ opts, blockWebSocket }) => {
    if (blockWebSocket) window.WebSocket = undefined;
    const { connect } = await import('/streamgate.js');
    const log = (window.__sg = { messages: [], gaps: [], events: [], errors: [] });
    const sg = (window.sg = connect('', opts));
    sg.on('message', (m) => log.messages.push(m));
    sg.on('gap', (g) => log.gaps.push(g));
    sg.on('error', (e) => log.errors.push(e.code || String(e)));
    for (const type of ['open', 'reconnecting', 'fallback', 'end'])
      sg.on(type, (d) => log.events.push({ type, transport: d.transport ?? null }));
  }, { opts: { ...CLIENT, ...opts }, blockWebSocket });
  return page;
}

const log = (page) => page.evaluate(() => window.__sg);
const received = async (page) => (await log(page)).messages.length;

async function waitOpen(page, n = 1) {
  await waitFor(async () => (await log(page)).events.filter((e) => e.type === 'open').length >= n,
    { what: `the client's open event #${n}` });
}

// Publishes messages from..to (text "channel:i") at a steady pace; onEach(i)
// runs after each answer. Retries a publish the gateway could not take
// (while it is down), and resolves [{channel, id, data}] in id order.
async function publishRange(channels, from, to, onEach = async () => {}) {
  const sent = [];
  for (let i = from; i <= to; i++) {
    const channel = channels[i % channels.length];
    const data = `${channel}:${i}`;
    let answer;
    await waitFor(async () => {
      try {
        answer = await publish(gw.url, channel, data);
        return true;
      } catch (err) {
        if (!/ECONNREFUSED|ECONNRESET/.test(err.message)) throw err;
        return false;
      }
    }, { what: `publish ${data}`, timeoutMs: 15000, intervalMs: 50 });
    sent.push({ channel, id: answer.id, event: null, data });
    await onEach(i);
    await sleep(EVERY_MS);
  }
  return sent;
}

// Waits until the page holds as many messages as were sent, then asserts
// it holds exactly them, in order.
async function assertExactly(page, sent, what) {
  await waitFor(async () => (await received(page)) >= sent.length,
    { what: `${sent.length} messages on the page (${what})`, timeoutMs: 20000 }).catch(() => {});
  assert.deepEqual((await log(page)).messages, sent, `${what}: exactly the published sequence`);
}

before(async () => {
  gw = await startGateway();
  browser = await launchChromium();
});

after(async () => {
  for (const p of proxies) await (await p).close();
  await browser?.close();
  gw?.kill();
  assert.deepEqual(errors, [], 'no uncaught errors on the pages');
});

test('GET /streamgate.js is the ES module in www/, as text/javascript', async () => {
  const res = await request(gw.url, { path: '/streamgate.js' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.match(res.text, /^export function connect\(baseUrl, opts = \{\}\) \{$/m);
});

test('kill -9 and a restart on the same port: the client resumes, the gap is signalled once per channel, no message lost or repeated', LIMIT, async () => {
  const channel = `restart-${process.pid}`;
  const quiet = `restart-quiet-${process.pid}`; // on the same socket, never published to
  const proxy = await tcpProxy(gw.port); // only to cut the page's socket at the end
  const page = await clientPage(proxy.url, { channels: [channel, quiet], transport: 'ws', lastEventId: '0' });
  await waitOpen(page);
  const killAt = COUNT / 2;
  let lastBefore;
  const sent = await publishRange([channel], 1, COUNT, async (i) => {
    if (i !== killAt) return;
    // the memory broker's history dies with the process: wait until the
    // page has everything the old process acknowledged, so the restart
    // itself loses nothing the test can see
    await waitFor(async () => (await received(page)) === killAt, { what: `message ${killAt} on the page` });
    lastBefore = (await log(page)).messages.at(-1).id;
    gw.kill();
    await waitFor(() => gw.proc.exitCode !== null || gw.proc.signalCode !== null, { what: 'the gateway to die' });
    gw = await startGateway({ listen: `127.0.0.1:${gw.port}` });
  });
  await assertExactly(page, sent, 'across a restart');
  const restarted = (ch) => ({ channel: ch, lastEventId: lastBefore, firstId: null, reason: 'restarted' });
  const { gaps } = await log(page);
  const firstIds = gaps.map((g) => g.firstId);
  assert.deepEqual(gaps.map((g) => ({ ...g, firstId: null })), [restarted(channel), restarted(quiet)],
    'one restarted gap per channel, naming the last id the page had (the quiet channel was in step)');
  assert.ok(firstIds[0] === null || sent.some((m) => m.id === firstIds[0]), 'first_id is a message the new process holds');
  assert.equal(firstIds[1], null, 'the quiet channel has no history');

  // one more cut: the quiet channel resumes from where the socket was, not
  // from before the restart, so the gap is not told again
  assert.ok(proxy.cut() >= 1);
  await waitOpen(page, 3);
  const last = await publishRange([channel], COUNT + 1, COUNT + 1);
  await assertExactly(page, [...sent, ...last], 'after another cut');
  const { events, errors: clientErrors } = await log(page);
  assert.equal((await log(page)).gaps.length, 2, 'no gap told twice');
  assert.ok(events.some((e) => e.type === 'reconnecting'), 'the client said it was reconnecting');
  assert.deepEqual(events.filter((e) => e.type === 'open').map((e) => e.transport), ['ws', 'ws', 'ws'], 'opened three times, over WebSocket');
  assert.deepEqual(clientErrors, []);
  await page.context().close();
});

test('kill -9 right after a publish was answered: only what the dead process held may be lost, and that is a gap', LIMIT, async () => {
  const channel = `restart-now-${process.pid}`;
  const page = await clientPage(gw.url, { channels: [channel], transport: 'ws', lastEventId: '0' });
  await waitOpen(page);
  const killAt = COUNT / 2;
  const sent = await publishRange([channel], 1, COUNT, async (i) => {
    if (i !== killAt) return;
    gw.kill(); // no waiting for the page: message killAt may be on its way, or not
    await waitFor(() => gw.proc.exitCode !== null || gw.proc.signalCode !== null, { what: 'the gateway to die' });
    gw = await startGateway({ listen: `127.0.0.1:${gw.port}` });
  });
  await waitFor(async () => (await log(page)).messages.at(-1)?.id === sent.at(-1).id, { what: 'the last message on the page', timeoutMs: 20000 });
  const { messages, gaps } = await log(page);
  // the page has a prefix of what the old process answered, then all the new one answered
  const had = messages.findIndex((m) => m.id === sent[killAt].id);
  assert.ok(had >= 1, 'the page got messages from both processes');
  assert.deepEqual(messages.slice(0, had), sent.slice(0, had), 'the old process: a prefix, in order');
  assert.deepEqual(messages.slice(had), sent.slice(killAt), 'the new process: everything, in order');
  assert.deepEqual(gaps.map((g) => [g.channel, g.lastEventId, g.reason]), [[channel, messages[had - 1].id, 'restarted']],
    'one restarted gap, naming the last id the page had');
  await page.context().close();
});

test('connections cut mid-stream by a proxy: two channels on one socket, resumed with no gap, loss or repeat', LIMIT, async () => {
  const proxy = await tcpProxy(gw.port);
  const channels = [`cut-a-${process.pid}`, `cut-b-${process.pid}`];
  const page = await clientPage(proxy.url, { channels, transport: 'auto', lastEventId: '0' });
  await waitOpen(page);
  let cuts = 0;
  const sent = await publishRange(channels, 1, COUNT, async (i) => {
    if (i % 100 === 50) cuts += proxy.cut(); // mid-stream, and the page catches up in between
  });
  await assertExactly(page, sent, 'across three cuts');
  const { gaps, events, errors: clientErrors } = await log(page);
  assert.ok(cuts >= 3, `the proxy cut the page's connections (${cuts})`);
  assert.deepEqual(gaps, [], 'nothing was lost, so no gap is signalled');
  assert.deepEqual(events.filter((e) => e.type === 'open').map((e) => e.transport), ['ws', 'ws', 'ws', 'ws']);
  assert.deepEqual(clientErrors, []);

  // publish over the socket, then unsubscribe one channel and add another
  const mine = await page.evaluate((ch) => window.sg.publish(ch, 'from the page'), channels[0]);
  assert.match(mine.id, /^\d+-\d+$/);
  assert.equal(mine.subscribers, 1);
  await waitFor(async () => (await log(page)).messages.at(-1)?.id === mine.id, { what: 'the page\'s own message' });
  const third = `cut-c-${process.pid}`;
  await page.evaluate(({ drop, add }) => { window.sg.unsubscribe(drop); window.sg.subscribe(add); }, { drop: channels[1], add: third });
  await waitFor(async () => (await request(gw.url, { path: `/channels/${third}/info` })).status === 200,
    { what: `${third} to exist (subscribed)` });
  const more = await publishRange([channels[1], third], 1, 4);
  await waitFor(async () => (await received(page)) === sent.length + 3, { what: 'the messages of the new channel' });
  await sleep(200);
  assert.deepEqual((await log(page)).messages.slice(sent.length + 1), more.filter((m) => m.channel === third),
    'the unsubscribed channel delivers nothing, the new one everything');
  await page.context().close();
});

test('WebSocket blocked by a proxy: the client falls back to long-poll, and is cut there too, with no loss or repeat', LIMIT, async () => {
  const proxy = await tcpProxy(gw.port, { refuseUpgrades: true });
  const channel = `fallback-${process.pid}`;
  const page = await clientPage(proxy.url, { channels: [channel], transport: 'auto', wsAttempts: 2, lastEventId: '0' });
  await waitFor(async () => (await log(page)).events.some((e) => e.type === 'fallback'), { what: 'the switch to long-poll' });
  let cuts = 0;
  const sent = await publishRange([channel], 1, COUNT, async (i) => {
    if (i % 100 === 50) cuts += proxy.cut();
  });
  await assertExactly(page, sent, 'long-poll across cuts');
  const { gaps, events, errors: clientErrors } = await log(page);
  assert.ok(cuts >= 3, `the proxy cut the page's long-polls (${cuts})`);
  assert.deepEqual(gaps, []);
  assert.ok(!events.some((e) => e.type === 'open' && e.transport === 'ws'), 'no WebSocket ever opened');
  assert.equal(events.find((e) => e.type === 'open')?.transport, 'longpoll');
  assert.deepEqual(events.filter((e) => e.type === 'fallback'), [{ type: 'fallback', transport: 'longpoll' }], 'one switch, after 2 refused upgrades');
  assert.deepEqual(clientErrors, []);
  const mine = await page.evaluate((ch) => window.sg.publish(ch, 'posted'), channel);
  await waitFor(async () => (await log(page)).messages.at(-1)?.id === mine.id, { what: 'a message published with POST' });
  await page.context().close();
});

test('a page without WebSocket long-polls at once', LIMIT, async () => {
  const channel = `nows-${process.pid}`;
  const page = await clientPage(gw.url, { channels: [channel], lastEventId: '0' }, { blockWebSocket: true });
  const sent = await publishRange([channel], 1, 20);
  await assertExactly(page, sent, 'without WebSocket');
  const { events } = await log(page);
  assert.deepEqual(events.slice(0, 2), [{ type: 'fallback', transport: 'longpoll' }, { type: 'open', transport: 'longpoll' }]);
  await page.context().close();
});

test('a DELETE of the channel ends the stream: one end event, no reconnect', LIMIT, async () => {
  const channel = `end-${process.pid}`;
  const page = await clientPage(gw.url, { channels: [channel], transport: 'ws', lastEventId: '0' });
  await waitOpen(page);
  const res = await request(gw.url, { method: 'DELETE', path: `/channels/${channel}` });
  assert.equal(res.status, 200, res.text);
  await waitFor(async () => (await log(page)).events.some((e) => e.type === 'end'), { what: 'the end event' });
  await sleep(500);
  const { events, errors: clientErrors } = await log(page);
  assert.deepEqual(events, [{ type: 'open', transport: 'ws' }, { type: 'end', transport: null }]);
  assert.deepEqual(clientErrors, []);
  assert.equal(await page.evaluate(() => window.sg.state), 'closed');
  await page.context().close();
});

test('with tokens: the token reaches the WebSocket and POST, refusals come back as error codes', LIMIT, async () => {
  const SECRET = 'client-test-secret-0123456789abcdef';
  const secure = await startGateway({ args: ['--auth-jwt-alg', 'HS256', '--auth-jwt-key', SECRET] });
  try {
    const token = mint('HS256', SECRET, { sub: 'alice', exp: now() + 600, streamgate: { subscribe: ['room.*'], publish: ['room.a'] } });
    const page = await clientPage(secure.url, { channels: ['room.a'], transport: 'ws', token, lastEventId: '0' });
    await waitOpen(page);
    const viaWs = await page.evaluate(() => window.sg.publish('room.a', { n: 1 }));
    assert.equal(viaWs.subscribers, 1);
    const refused = await page.evaluate(() => window.sg.publish('room.b', 'no').then(() => 'published', (e) => e.code));
    assert.equal(refused, 'forbidden');
    await waitFor(async () => (await received(page)) === 1, { what: 'the JSON message' });
    assert.equal((await log(page)).messages[0].data, '{"n":1}');
    await page.context().close();

    // long-poll and POST carry it as a Bearer header; a channel outside the token ends the client
    const lp = await clientPage(secure.url, { channels: ['room.a'], transport: 'longpoll', token, lastEventId: '0' });
    const viaPost = await lp.evaluate(() => window.sg.publish('room.a', 'by POST'));
    await waitFor(async () => (await log(lp)).messages.some((m) => m.id === viaPost.id), { what: 'the POSTed message over long-poll' });
    await lp.evaluate(() => window.sg.subscribe('secret'));
    await waitFor(async () => (await log(lp)).events.some((e) => e.type === 'end'), { what: 'the end after a refusal' });
    assert.deepEqual((await log(lp)).errors, ['forbidden']);
    await lp.context().close();
  } finally {
    secure.kill();
  }
});
