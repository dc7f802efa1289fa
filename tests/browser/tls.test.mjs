// The TLS port in headless Chromium: the www/ page loads over https and
// HTTP/2 (the protocol Chromium reports through CDP), an EventSource
// receives over HTTP/2 what the page publishes with fetch, and a wss
// WebSocket (HTTP/1.1 on the same port: no WebSocket over HTTP/2 is
// offered) receives the same. The test CA is made with openssl and the
// browser context ignores certificate errors. Every wait is bounded.
//
//   STREAMGATE_BIN=build/streamgate STREAMGATE_WWW=www node --test tests/browser/tls.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WWW } from './lib/gateway.mjs';
import { launchChromium } from './lib/browser.mjs';
import { startServer, tempDir, waitFor } from '../integration/lib/server.mjs';
import { makeCa, makeServerCert, tlsArgs } from '../integration/lib/tls.mjs';

const tmp = tempDir('streamgate-browser-tls-');
let gw;
let browser;

before(async () => {
  makeCa(tmp.dir);
  gw = await startServer({ tls: true, www: WWW, args: tlsArgs(makeServerCert(tmp.dir)) });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await gw?.stop();
  tmp.cleanup();
});

test('Chromium over https: the page and EventSource on h2, WebSocket on wss', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const protocols = {}; // url -> protocol Chromium used
  cdp.on('Network.responseReceived', (e) => { protocols[e.response.url] = e.response.protocol; });
  const base = `https://localhost:${gw.tlsPort}`;
  await page.goto(`${base}/`);
  assert.equal(protocols[`${base}/`], 'h2');

  await page.evaluate((wsUrl) => {
    window.got = { sse: [], ws: [], wsOpen: false, sseOpen: false };
    const es = new EventSource('/channels/chromium-tls');
    es.onopen = () => { window.got.sseOpen = true; };
    es.onmessage = (e) => window.got.sse.push(e.data);
    const ws = new WebSocket(wsUrl);
    ws.onopen = () => { window.got.wsOpen = true; };
    ws.onmessage = (e) => window.got.ws.push(e.data);
  }, `wss://localhost:${gw.tlsPort}/channels/chromium-tls`);
  await waitFor(() => page.evaluate(() => window.got.sseOpen && window.got.wsOpen), { what: 'EventSource and WebSocket open' });

  const answer = await page.evaluate(async () => {
    const r = await fetch('/channels/chromium-tls', { method: 'POST', body: 'hello over h2 ✓' });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(answer.status, 200);
  assert.equal(answer.body.subscribers, 2);
  await waitFor(() => page.evaluate(() => window.got.sse.length && window.got.ws.length), { what: 'the message on both' });
  assert.deepEqual(await page.evaluate(() => window.got), {
    sse: ['hello over h2 ✓'], ws: ['hello over h2 ✓'], sseOpen: true, wsOpen: true,
  });
  assert.equal(protocols[`${base}/channels/chromium-tls`], 'h2', JSON.stringify(protocols));
  await context.close();
});
