// The command itself: clean shutdown with open streams, --version, --help,
// config files, environment, static files, health and metrics.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  freePort, metrics, publish, publishEach, request, runBinary, startServer, tempDir, waitForConnections, WWW,
} from './lib/server.mjs';
import { curl, wsClient } from './lib/clients.mjs';
import { chunkedText, samples, sseText, withIds } from './lib/messages.mjs';

describe('shutdown', { timeout: 60000 }, () => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    it(`${signal} ends chunked and SSE responses and closes WebSockets with 1001`, async () => {
      const server = await startServer();
      const sub = `${server.url}/channels/bye`;
      const chunked = curl(sub, { maxTimeS: 30 });
      const sse = curl(sub, { args: ['-H', 'Accept: text/event-stream'], maxTimeS: 30 });
      let ws;
      try {
        ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/bye`);
        await chunked.waitHeaders();
        await sse.waitHeaders();
        const msgs = withIds(samples(1, 3), await publishEach(server.url, 'bye', samples(1, 3), 3));
        await chunked.waitBytes(Buffer.byteLength(chunkedText(msgs)));
        await sse.waitBytes(Buffer.byteLength(sseText(msgs)));
        await ws.waitCount(3);

        await server.stop({ signal }); // asserts exit code 0

        const c = await chunked.done;
        assert.deepStrictEqual({ code: c.code, stdout: c.stdout.toString() }, { code: 0, stdout: chunkedText(msgs) });
        const s = await sse.done;
        assert.deepStrictEqual({ code: s.code, stdout: s.stdout.toString() }, { code: 0, stdout: sseText(msgs) });
        assert.equal((await ws.waitClosed(10000)).code, 1001);
        assert.deepStrictEqual(ws.payloads(), msgs.map((m) => m.data));
      } finally {
        await chunked.kill();
        await sse.kill();
        if (server.proc.exitCode === null) await server.stop().catch(() => {});
      }
    });
  }
});

describe('command line', { timeout: 60000 }, () => {
  it('--version prints the version and exits 0', async () => {
    const r = await runBinary(['--version']);
    assert.deepStrictEqual({ code: r.code, stdout: r.stdout }, { code: 0, stdout: 'streamgate 0.1.0\n' });
  });

  it('--help prints usage and exits 0', async () => {
    const r = await runBinary(['--help']);
    assert.equal(r.code, 0);
    for (const flag of ['--listen', '--www', '--config']) assert.ok(r.stdout.includes(flag), `usage mentions ${flag}`);
  });

  const badConfigs = [
    ['unknown key', '{\n  "listen": "127.0.0.1:0",\n  "lissten": "127.0.0.1:0"\n}\n', 3, 'unknown key "lissten"'],
    ['invalid JSON', '{\n  "listen": "127.0.0.1:0",\n  "history_count": 10,,\n  "queue_bytes": 1\n}\n', 3, ''],
    ['wrong type', '{\n  "listen": "127.0.0.1:0",\n  "history_count": "ten"\n}\n', 3, ''],
  ];
  for (const [what, text, line, message] of badConfigs) {
    it(`a config file with ${what} exits 2 naming file and line`, async () => {
      const tmp = tempDir();
      try {
        const file = path.join(tmp.dir, 'bad.json');
        fs.writeFileSync(file, text);
        const r = await runBinary(['--config', file, '--www', WWW]);
        assert.equal(r.code, 2);
        assert.ok(r.stderr.includes(`${file}:${line}: ${message}`), `stderr names ${file}:${line}: ${r.stderr}`);
        assert.equal(r.stdout, '');
      } finally {
        tmp.cleanup();
      }
    });
  }

  it('listen: the flag beats STREAMGATE_LISTEN, which beats the config file', async () => {
    const [filePort, envPort, flagPort] = [await freePort(), await freePort(), await freePort()];
    const tmp = tempDir();
    try {
      const file = path.join(tmp.dir, 'good.json');
      fs.writeFileSync(file, JSON.stringify({ listen: `127.0.0.1:${filePort}`, longpoll_timeout_ms: 500 }));
      const cases = [
        [{ env: {}, listen: null }, filePort],
        [{ env: { STREAMGATE_LISTEN: `127.0.0.1:${envPort}` }, listen: null }, envPort],
        [{ env: { STREAMGATE_LISTEN: `127.0.0.1:${envPort}` }, listen: `127.0.0.1:${flagPort}` }, flagPort],
      ];
      for (const [opts, want] of cases) {
        const server = await startServer({ ...opts, args: ['--config', file] });
        try {
          assert.equal(server.port, want);
          // the rest of the file applies too: an empty long-poll ends after 500 ms
          const res = await request(server.url, { path: '/channels/cfg?transport=longpoll', timeoutMs: 10000 });
          assert.deepStrictEqual({ status: res.status, body: res.text }, { status: 200, body: '[]' });
        } finally {
          await server.stop();
        }
      }
    } finally {
      tmp.cleanup();
    }
  });

  it('STREAMGATE_LISTEN alone is honoured', async () => {
    const port = await freePort();
    const server = await startServer({ listen: null, env: { STREAMGATE_LISTEN: `127.0.0.1:${port}` } });
    try {
      assert.equal(server.port, port);
      const res = await request(server.url, { path: '/healthz' });
      assert.equal(res.status, 200);
    } finally {
      await server.stop();
    }
  });
});

describe('static files, health and metrics', { timeout: 60000 }, () => {
  it('serves www/ and refuses to leave it', async () => {
    const tmp = tempDir();
    const www = path.join(tmp.dir, 'www');
    fs.mkdirSync(path.join(www, 'sub'), { recursive: true });
    const index = '<!doctype html>\n<title>t</title>\n<p>héllo ✓</p>\n';
    fs.writeFileSync(path.join(www, 'index.html'), index);
    fs.writeFileSync(path.join(www, 'sub', 'file.txt'), 'a file in sub\n');
    fs.writeFileSync(path.join(tmp.dir, 'secret.txt'), 'TOP-SECRET\n');
    const server = await startServer({ www });
    try {
      for (const p of ['/', '/index.html']) {
        const res = await request(server.url, { path: p });
        assert.deepStrictEqual([res.status, res.headers['content-type'].split(';')[0], res.text], [200, 'text/html', index]);
      }
      const txt = await request(server.url, { path: '/sub/file.txt' });
      assert.deepStrictEqual([txt.status, txt.headers['content-type'].split(';')[0], txt.text], [200, 'text/plain', 'a file in sub\n']);
      for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/../../secret.txt', '/sub/%2e%2e/%2e%2e/secret.txt',
        '/%2E%2E/secret.txt', '/..%2fsecret.txt', '/sub/..%2f..%2fsecret.txt']) {
        const res = await request(server.url, { path: p });
        assert.ok(res.status === 404 || res.status === 400, `${p}: status ${res.status}`);
        assert.ok(!res.text.includes('TOP-SECRET'), `${p} leaked the file`);
      }
    } finally {
      await server.stop();
      tmp.cleanup();
    }
  });

  it('/healthz and /metrics', async () => {
    const server = await startServer();
    let c;
    try {
      const h = await request(server.url, { path: '/healthz' });
      assert.deepStrictEqual([h.status, h.headers['content-type'], JSON.parse(h.text)], [200, 'application/json', { status: 'ok' }]);
      const idle = (await metrics(server.url)).streamgate_connections;
      c = curl(`${server.url}/channels/m`, { maxTimeS: 30 });
      await c.waitHeaders();
      await waitForConnections(server.url, idle + 1);
      await publish(server.url, 'm', 'one');
      await publish(server.url, 'other', 'two');
      const res = await request(server.url, { path: '/metrics' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'].split(';')[0], 'text/plain');
      const m = await metrics(server.url);
      assert.deepStrictEqual(
        [m.streamgate_connections, m.streamgate_messages_published_total, m.streamgate_frames_dropped_total, m.streamgate_slow_disconnects_total],
        [idle + 1, 2, 0, 0]);
    } finally {
      await c?.kill();
      await server.stop();
    }
  });

  it('subscribers that hang up are released without waiting for a publish', async () => {
    const server = await startServer();
    try {
      const idle = (await metrics(server.url)).streamgate_connections;
      const sub = `${server.url}/channels/gone`;
      const chunked = curl(sub, { maxTimeS: 30 });
      const sse = curl(sub, { args: ['-H', 'Accept: text/event-stream'], maxTimeS: 30 });
      const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/gone`);
      await chunked.waitHeaders();
      await sse.waitHeaders();
      await waitForConnections(server.url, idle + 3);
      assert.equal((await ws.close()).code, 1000);
      await waitForConnections(server.url, idle + 2);
      await chunked.kill();
      await sse.kill();
      await waitForConnections(server.url, idle);
      assert.equal((await publish(server.url, 'gone', 'x')).subscribers, 0);
    } finally {
      await server.stop();
    }
  });
});
