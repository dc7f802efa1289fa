// www/tokens.html in headless Chromium: a durable upstream stream (upstream
// mode) of NDJSON tokens from a backend written here, read by the page; the
// page is reloaded mid-stream (twice) and must end with every token exactly
// once, in order, while the backend saw one request only.
//
//   STREAMGATE_BIN=build/streamgate STREAMGATE_WWW=www node --test tests/browser/tokens.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { sleep, startGateway, waitFor } from './lib/gateway.mjs';
import { launchChromium } from './lib/browser.mjs';

const N = 150; // 3 s at 50 tokens/s
const token = (i) => JSON.stringify({ token: `t${i}` });

let up;
let gw;
let browser;
let dir;
const requests = [];

before(async () => {
  up = http.createServer(async (req, res) => {
    requests.push(req.url);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (let i = 0; i < N && !res.destroyed; i++) {
      res.write(`${token(i)}\n`);
      await sleep(20);
    }
    res.end();
  });
  await new Promise((resolve) => up.listen(0, '127.0.0.1', resolve));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-tokens-'));
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify({
    upstreams: [{ path: '/v1/*', url: `http://127.0.0.1:${up.address().port}`, durable: true }],
  }));
  gw = await startGateway({ args: ['--config', file] });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await gw?.stop();
  up?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('reloading mid-stream loses and repeats no token', { timeout: 60000 }, async () => {
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const count = async () => Number(await page.locator('#count').textContent());
  await page.goto(`${gw.url}/tokens.html?path=/v1/tokens`);
  await waitFor(async () => (await count()) >= 20, { timeoutMs: 20000, what: '20 tokens before the first reload' });
  await page.reload();
  await waitFor(async () => (await count()) >= 60, { timeoutMs: 20000, what: '60 tokens before the second reload' });
  await page.reload();
  await waitFor(async () => (await page.locator('#status').textContent()) === 'done',
    { timeoutMs: 30000, what: 'the end of the stream' });
  const state = JSON.parse(await page.evaluate(() => sessionStorage.getItem('streamgate.tokens')));
  assert.deepEqual(state.tokens, Array.from({ length: N }, (_, i) => token(i)));
  assert.match(state.id, /^[0-9a-f]{16}$/);
  assert.equal(await page.locator('#out').textContent(), Array.from({ length: N }, (_, i) => `t${i}`).join(' '));
  assert.deepEqual(requests, ['/v1/tokens'], 'one upstream request: the reloads resumed it');
  assert.deepEqual(errors, []);
});
