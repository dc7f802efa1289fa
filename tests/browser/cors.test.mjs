// CORS and Origin in a real browser: a page on a second origin (a tiny
// node server on another loopback port) uses two gateways, one whose
// allowed_origins lists the page's origin and one with the default (its
// own origin only). Allowed: EventSource receives what fetch POSTs
// (text/plain, and JSON after a preflight), the answers are readable, a
// WebSocket opens; with credentials too (exact origins answer
// Access-Control-Allow-Credentials). Not allowed: EventSource fails,
// fetch is refused, a no-cors text/plain POST publishes nothing and a
// WebSocket is refused. Each case is one row of CASES. With auth_cookie, a
// third gateway takes its token from an HttpOnly cookie the page cannot
// read: with the cookie, EventSource (withCredentials) receives and fetch
// with credentials publishes; a no-cors POST carries no cookie and
// publishes nothing; without the cookie, nothing gets through.
//
//   STREAMGATE_BIN=build/streamgate STREAMGATE_WWW=www node --test tests/browser/cors.test.mjs
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { request, startGateway, withTimeout } from './lib/gateway.mjs';
import { launchChromium } from './lib/browser.mjs';
import { mint, now } from '../integration/lib/jwt.mjs';

const SECRET = 'browser-cookie-secret';
const token = (claim) => mint('HS256', SECRET, { sub: 'page-user', exp: now() + 600, streamgate: claim });

const LIMIT = { timeout: 90000 };
let pages; // the second origin's server
let pageOrigin;
let browser;
const gateways = {};

// What a page on pageOrigin can do with gateway url (runs in the page).
// Every step is bounded; the result says what happened, never throws.
async function tryFromPage({ url, channel, credentials, expect }) {
  const withTimeout = (p, ms, what) => Promise.race([p, new Promise((resolve) => setTimeout(() => resolve(`timeout: ${what}`), ms))]);
  const out = {};
  const es = new EventSource(`${url}/channels/${channel}`, { withCredentials: credentials });
  const received = [];
  es.onmessage = (e) => received.push(e.data);
  out.eventSource = await withTimeout(new Promise((resolve) => {
    es.onopen = () => resolve('open');
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) resolve('failed'); };
  }), 5000, 'EventSource');
  const post = async (body, type) => {
    try {
      const res = await fetch(`${url}/channels/${channel}`, {
        method: 'POST', body, headers: { 'Content-Type': type }, credentials: credentials ? 'include' : 'same-origin',
      });
      return { status: res.status, body: await res.json() };
    } catch (err) {
      return { error: err.name };
    }
  };
  out.textPost = await post('text from the page', 'text/plain');
  out.jsonPost = await post(JSON.stringify({ data: 'json from the page' }), 'application/json');
  // a form-like POST the browser sends without asking: the answer is
  // opaque to the page, so only the gateway can stop it
  await fetch(`${url}/channels/${channel}`, { method: 'POST', mode: 'no-cors', body: 'no-cors from the page' })
    .catch(() => {});
  out.received = await withTimeout(new Promise((resolve) => {
    const check = () => (received.length >= expect || es.readyState === EventSource.CLOSED ? resolve(received) : setTimeout(check, 20));
    check();
  }), 5000, 'messages');
  es.close();
  out.webSocket = await withTimeout(new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/channels/${channel}`);
    // open, and still open a moment later; or closed by the gateway after
    // the handshake (a channel the client may not read: 1008); or refused
    ws.onopen = () => setTimeout(() => { ws.close(); resolve('open'); }, 300);
    ws.onclose = (e) => resolve(`closed ${e.code}`);
    ws.onerror = () => resolve('refused');
  }), 5000, 'WebSocket');
  return out;
}

const CASES = [
  {
    name: 'allowed origin', gateway: 'allowed', credentials: false,
    want: {
      eventSource: 'open',
      textPost: { status: 200, channel: true },
      jsonPost: { status: 200, channel: true },
      received: ['text from the page', 'json from the page', 'no-cors from the page'],
      webSocket: 'open',
    },
  },
  {
    name: 'allowed origin, with credentials', gateway: 'allowed', credentials: true,
    want: {
      eventSource: 'open',
      textPost: { status: 200, channel: true },
      jsonPost: { status: 200, channel: true },
      received: ['text from the page', 'json from the page', 'no-cors from the page'],
      webSocket: 'open',
    },
  },
  {
    name: 'origin not allowed', gateway: 'closed', credentials: false,
    want: {
      eventSource: 'failed', textPost: { error: 'TypeError' }, jsonPost: { error: 'TypeError' },
      received: [], webSocket: 'refused',
    },
  },
  {
    name: 'allowed origin, HttpOnly cookie', gateway: 'cookie', credentials: true, cookie: true,
    want: {
      eventSource: 'open',
      textPost: { status: 200, channel: true },
      jsonPost: { status: 200, channel: true },
      received: ['text from the page', 'json from the page'], // no-cors sends no cookie
      webSocket: 'open',
    },
  },
  {
    name: 'allowed origin, no cookie', gateway: 'cookie', credentials: true, cookie: false,
    want: {
      eventSource: 'failed',
      textPost: { status: 401, channel: false },
      jsonPost: { status: 401, channel: false },
      received: [],
      webSocket: 'closed 1008', // the handshake is HTTP/1.1's; the subscription is refused after it
    },
  },
];

// The page's result with publish answers reduced to what the case checks.
function summary(got, channel) {
  const post = (p) => (p.status === undefined ? p : { status: p.status, channel: p.body.channel === channel });
  return { ...got, textPost: post(got.textPost), jsonPost: post(got.jsonPost) };
}

describe('CORS from a second origin in Chromium', LIMIT, () => {
  before(async () => {
    pages = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>another origin</title><p>another origin</p>');
    });
    await new Promise((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${pages.address().port}`;
    gateways.allowed = await startGateway({ args: ['--allowed-origins', pageOrigin] });
    gateways.closed = await startGateway();
    gateways.cookie = await startGateway({ args: ['--allowed-origins', pageOrigin, '--auth-jwt-alg', 'HS256',
      '--auth-jwt-key', SECRET, '--auth-cookie', 'sg_token'] });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    for (const gw of Object.values(gateways)) await gw.stop();
    await new Promise((resolve) => pages?.close(resolve));
  });

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const gw = gateways[c.gateway];
      const channel = `cors-browser-${i}`;
      const context = await browser.newContext();
      if (c.cookie) // as an application would set it: HttpOnly, for the gateway's host
        await context.addCookies([{ name: 'sg_token', value: token({ subscribe: ['cors-*'], publish: ['cors-*'] }),
          url: gw.url, httpOnly: true, sameSite: 'Lax' }]);
      try {
        const page = await context.newPage();
        await page.goto(`${pageOrigin}/`);
        assert.equal(await page.evaluate(() => location.origin), pageOrigin);
        const got = await withTimeout(page.evaluate(tryFromPage, { url: gw.url, channel, credentials: c.credentials, expect: c.want.received.length || 3 }),
          30000, `the page's tries (${c.name})`);
        assert.deepStrictEqual(summary(got, channel), c.want);
        // what the gateway holds: the page's messages, or nothing at all
        const info = await request(gw.url, { path: `/channels/${channel}/info`,
          headers: { authorization: `Bearer ${token({ admin: true, subscribe: ['*'] })}` } });
        if (c.want.received.length)
          assert.equal(JSON.parse(info.text).history.count, c.want.received.length);
        else
          assert.equal(info.status, 404, `nothing was published: ${info.text}`);
      } finally {
        await context.close();
      }
    });
  });
});
