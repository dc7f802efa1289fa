// Rolling restarts (README "Rolling restarts"): with drain_ms, SIGTERM
// closes the listening socket at once (new connections are refused, so a
// load balancer sends them elsewhere), then asks the streams to reconnect
// elsewhere spread over drain_ms: a WebSocket gets close 1012, an SSE
// stream a retry: hint and a clean end, a chunked stream a clean end; the
// process exits 0 within drain_ms + shutdown_grace_ms.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { exited, publish, startServer, tempDir, waitFor, waitForConnections, withTimeout } from './lib/server.mjs';
import { curl, wsClient } from './lib/clients.mjs';
import { collect, connect } from './lib/raw.mjs';

const DRAIN_MS = 1000;
const GRACE_MS = 2000;

// Resolves with the time connect() to port is refused (polls every 10 ms).
async function refusedAt(port) {
  return waitFor(async () => {
    try {
      (await connect(port, { timeoutMs: 500 })).destroy();
      return false;
    } catch (err) {
      return err.code === 'ECONNREFUSED' ? Date.now() : false;
    }
  }, { timeoutMs: 1000, intervalMs: 10, what: 'a refused connection' });
}

describe('drain_ms', { timeout: 60000 }, () => {
  it('SIGTERM: refused at once, WebSocket 1012, SSE retry: then a clean end, exit 0 in time', async () => {
    const tmp = tempDir('sg-drain-');
    const log = path.join(tmp.dir, 'access.log');
    const server = await startServer({
      args: ['--drain-ms', String(DRAIN_MS), '--shutdown-grace-ms', String(GRACE_MS), '--heartbeat-ms', '0',
        '--access-log', log],
    });
    try {
      const url = `${server.url}/channels/drain`;
      const ws = await wsClient(url.replace('http:', 'ws:'));
      const sock = await connect(server.port);
      const sse = collect(sock, { timeoutMs: 10000 });
      let sseText = '';
      sock.on('data', (d) => (sseText += d.toString('latin1')));
      sock.write('GET /channels/drain HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n');
      const chunked = curl(url);
      await chunked.waitHeaders();
      await waitForConnections(server.url, 3);
      await publish(server.url, 'drain', 'before');
      await ws.waitCount(1);
      await waitFor(() => sseText.includes('data: before\n\n'), { what: 'SSE message' });
      await chunked.waitBytes('before\n'.length);

      const ends = {};
      const t0 = Date.now();
      server.proc.kill('SIGTERM');
      ws.closed.then(() => (ends.ws = Date.now()));
      sse.then(() => (ends.sse = Date.now()));
      chunked.done.then(() => (ends.chunked = Date.now()));
      const refused = await refusedAt(server.port);
      assert.ok(refused - t0 < 500, `refused ${refused - t0} ms after SIGTERM`);

      const close = await ws.waitClosed(DRAIN_MS + 1000);
      assert.deepEqual(close, { code: 1012, reason: 'service restart' });
      const got = await sse;
      assert.equal(got.closed, true);
      const body = got.text.slice(got.text.indexOf('\r\n\r\n') + 4);
      // the retry: hint is a tenth of drain_ms (100..1000), then the last chunk
      assert.ok(body.endsWith('\r\nretry: 100\n\n\r\n0\r\n\r\n'), JSON.stringify(body));
      const c = await chunked.done;
      assert.equal(c.code, 0, c.stderr); // curl saw a clean end
      assert.equal(c.stdout.toString(), 'before\n');

      const exit = await withTimeout(exited(server.proc), DRAIN_MS + GRACE_MS + 500, 'exit after SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
      // spread over drain_ms: not all at once, none after it
      const times = Object.values(ends).map((t) => t - t0);
      assert.equal(times.length, 3);
      assert.ok(Math.max(...times) >= DRAIN_MS * 0.4, `ends at ${times} ms`);
      assert.ok(Math.max(...times) <= DRAIN_MS + 500, `ends at ${times} ms`);
      const reasons = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
        .filter((e) => e.transport !== 'http').map((e) => `${e.transport} ${e.reason}`).sort();
      assert.deepEqual(reasons, ['chunked shutdown', 'sse shutdown', 'ws shutdown']);
    } finally {
      if (server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill('SIGKILL');
      tmp.cleanup();
    }
  });
});
