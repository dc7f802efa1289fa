// The process and its signals: SIGTERM and SIGINT end it within
// shutdown_grace_ms + 1 s even with streams open or a loop that spins (the
// watchdog, exit 3); SIGHUP reloads the settings without dropping streams;
// a second gateway on an address in use refuses to start; workers of one
// gateway still share their port.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  exited, expectError, freePort, publish, publishEach, request, runBinary, startServer, tempDir, waitFor,
  waitForConnections, withTimeout, WORKERS, WWW,
} from './lib/server.mjs';
import { closeStreams, curl, streamsOn } from './lib/clients.mjs';
import { samples, sseText, withIds } from './lib/messages.mjs';

const EXIT_FORCED = 3;
const WATCHDOG_LINE = 'streamgate: shutdown did not finish within shutdown_grace_ms + 1 s: exiting now\n';

// Milliseconds fn() took, and its value.
async function timed(fn) {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { value, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

// Test only (STREAMGATE_TEST_HANG_LOOP=1): SIGUSR2 makes the first
// worker's loop spin for ever; waits until it does.
async function hangLoop(server) {
  server.proc.kill('SIGUSR2');
  await waitFor(() => server.stderr().includes('streamgate: test: the loop hangs\n'), { what: 'the hang' });
  // with one worker nothing answers any more (with two, the other still does)
  if (!WORKERS || WORKERS === '1')
    await assert.rejects(request(server.url, { path: '/healthz', timeoutMs: 500 }), /timed out/);
}

// Nonzero when signal number sig is pending for the whole process pid.
function signalPending(pid, sig) {
  const m = /^ShdPnd:\s+([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `ShdPnd in /proc/${pid}/status`);
  return (BigInt(`0x${m[1]}`) >> BigInt(sig - 1)) & 1n;
}

// Sends signal and waits (bounded) for the exit; returns {code, signal, ms}.
async function signalAndWait(server, signal, timeoutMs = 10000) {
  const { value, ms } = await timed(() => {
    server.proc.kill(signal);
    return withTimeout(exited(server.proc), timeoutMs, `exit after ${signal}`);
  });
  return { ...value, ms };
}

// The "streamgate: reload: ..." lines of stderr so far.
function reloadLines(server) {
  return server.stderr().split('\n').filter((l) => l.startsWith('streamgate: reload: '));
}

// Sends SIGHUP and waits until the reload said it is done (or why not):
// returns the reload lines it wrote.
async function reload(server) {
  const before = reloadLines(server).length;
  server.proc.kill('SIGHUP');
  const lines = await waitFor(() => {
    const now = reloadLines(server).slice(before);
    return now.some((l) => l === 'streamgate: reload: done' || l.endsWith('; keeping the previous settings')) && now;
  }, { what: 'a reload line on stderr' });
  return lines;
}

function postBytes(base, channel, n) {
  return request(base, {
    method: 'POST', path: `/channels/${channel}`, body: 'x'.repeat(n),
    headers: { 'Content-Type': 'text/plain; charset=utf-8' },
  });
}

async function historyOf(base, channel) {
  const res = await request(base, { path: `/channels/${channel}/info` });
  assert.equal(res.status, 200, res.text);
  return JSON.parse(res.text).history;
}

// A config file in a fresh directory; write() replaces its settings.
function configFile(settings) {
  const tmp = tempDir();
  const file = path.join(tmp.dir, 'gw.json');
  const write = (s) => fs.writeFileSync(file, typeof s === 'string' ? s : `${JSON.stringify(s, null, 2)}\n`);
  write(settings);
  return { file, write, cleanup: tmp.cleanup };
}

describe('stop signals', { timeout: 60000 }, () => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    it(`${signal} with chunked, SSE, ndjson and WebSocket streams open: exit 0 within grace + 1 s`, async () => {
      const server = await startServer({ args: ['--shutdown-grace-ms', '1000'] });
      const s = await streamsOn(server, '/channels/bye');
      try {
        await waitForConnections(server.url, 6);
        const r = await signalAndWait(server, signal);
        assert.deepStrictEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null }, server.stderr());
        assert.ok(r.ms < 2000, `${signal} to exit took ${r.ms} ms`);
        for (const k of ['chunked', 'chunkedJson', 'sse', 'ndjson']) assert.equal((await s[k].done).code, 0, k);
        for (const k of ['ws', 'wsJson']) assert.equal((await s[k].waitClosed(10000)).code, 1001, k);
      } finally {
        await closeStreams(s);
        if (server.proc.exitCode === null) server.proc.kill('SIGKILL');
      }
    });
  }

  it('a loop that spins: SIGTERM still ends the process after grace + 1 s, with exit 3', async () => {
    const server = await startServer({
      args: ['--shutdown-grace-ms', '500'], env: { STREAMGATE_TEST_HANG_LOOP: '1' },
    });
    const sse = curl(`${server.url}/channels/stuck`, { args: ['-H', 'Accept: text/event-stream'], maxTimeS: 30 });
    try {
      await sse.waitHeaders();
      await hangLoop(server);
      const r = await signalAndWait(server, 'SIGTERM');
      assert.deepStrictEqual({ code: r.code, signal: r.signal }, { code: EXIT_FORCED, signal: null });
      assert.ok(r.ms >= 1400 && r.ms < 2500, `SIGTERM to exit took ${r.ms} ms (grace 500 + 1000)`);
      assert.ok(server.stderr().endsWith(WATCHDOG_LINE), `stderr: ${server.stderr()}`);
    } finally {
      await sse.kill();
      if (server.proc.exitCode === null) server.proc.kill('SIGKILL');
    }
  });

  it('a second SIGTERM while the shutdown waits exits 3 at once', async () => {
    const server = await startServer({
      args: ['--shutdown-grace-ms', '5000'], env: { STREAMGATE_TEST_HANG_LOOP: '1' },
    });
    try {
      await hangLoop(server);
      server.proc.kill('SIGTERM');
      // two signals pending at once merge into one: wait for the first to be taken
      await waitFor(() => !signalPending(server.pid, 15), { what: 'the first SIGTERM delivered' });
      const r = await signalAndWait(server, 'SIGTERM');
      assert.deepStrictEqual({ code: r.code, signal: r.signal }, { code: EXIT_FORCED, signal: null });
      assert.ok(r.ms < 1000, `second SIGTERM to exit took ${r.ms} ms`);
      assert.ok(server.stderr().endsWith('streamgate: second stop signal: exiting now\n'), server.stderr());
    } finally {
      if (server.proc.exitCode === null) server.proc.kill('SIGKILL');
    }
  });
});

describe('SIGHUP reloads the settings', { timeout: 60000 }, () => {
  it('keeps SSE streams open and applies max_body_bytes and history_count', async () => {
    const cfg = configFile({ max_body_bytes: 1000, history_count: 50 });
    const server = await startServer({ args: ['--config', cfg.file] });
    const sse = curl(`${server.url}/channels/live`, { args: ['-H', 'Accept: text/event-stream'], maxTimeS: 30 });
    try {
      await sse.waitHeaders();
      const first = withIds(samples(1, 2), await publishEach(server.url, 'live', samples(1, 2), 1));
      await sse.waitBytes(Buffer.byteLength(sseText(first)));
      assert.equal((await postBytes(server.url, 'big', 500)).status, 200);
      const ids = await publishEach(server.url, 'hist', samples(1, 5));
      assert.equal((await historyOf(server.url, 'hist')).count, 5);

      cfg.write({ max_body_bytes: 100, history_count: 3 });
      assert.deepStrictEqual(await reload(server), ['streamgate: reload: done']);

      assert.equal(server.proc.exitCode, null);
      expectError(await postBytes(server.url, 'big', 500), 413, 'body_too_large');
      assert.equal((await postBytes(server.url, 'big', 100)).status, 200);
      // the new bound trims at once, and bounds what comes next
      let h = await historyOf(server.url, 'hist');
      assert.deepStrictEqual([h.count, h.first_id, h.last_id], [3, ids[2], ids[4]]);
      const more = await publishEach(server.url, 'hist', samples(6, 7));
      h = await historyOf(server.url, 'hist');
      assert.deepStrictEqual([h.count, h.first_id, h.last_id], [3, ids[4], more[1]]);
      // the SSE stream opened before the reload still gets every message
      const second = withIds(samples(3, 4), await publishEach(server.url, 'live', samples(3, 4), 1));
      await sse.waitBytes(Buffer.byteLength(sseText([...first, ...second])));
      await server.stop();
      const r = await sse.done;
      assert.deepStrictEqual([r.code, r.stdout.toString()], [0, sseText([...first, ...second])]);
    } finally {
      await sse.kill();
      if (server.proc.exitCode === null) await server.stop().catch(() => {});
      cfg.cleanup();
    }
  });

  it('a config file with an error is logged and the old settings stay', async () => {
    const cfg = configFile({ max_body_bytes: 100 });
    const server = await startServer({ args: ['--config', cfg.file] });
    try {
      cfg.write('{\n  "max_body_bytes": 5000,\n  "queue_bytes": "lots"\n}\n');
      assert.deepStrictEqual(await reload(server), [
        `streamgate: reload: ${cfg.file}:3: queue_bytes: expected a whole number from 1024 to 17179869184, got "lots"; keeping the previous settings`,
      ]);
      expectError(await postBytes(server.url, 'c', 101), 413, 'body_too_large');
      assert.equal((await postBytes(server.url, 'c', 100)).status, 200);
      // a later good file is applied
      cfg.write({ max_body_bytes: 5000 });
      assert.deepStrictEqual(await reload(server), ['streamgate: reload: done']);
      assert.equal((await postBytes(server.url, 'c', 5000)).status, 200);
      await server.stop();
    } finally {
      if (server.proc.exitCode === null) await server.stop().catch(() => {});
      cfg.cleanup();
    }
  });

  it('keys that need a restart are named and left as they are', async () => {
    const cfg = configFile({ examples: 1 });
    const server = await startServer({ args: ['--config', cfg.file] });
    try {
      cfg.write({ examples: 0, max_header_bytes: 4096, heartbeat_ms: 500 });
      assert.deepStrictEqual(await reload(server), [
        'streamgate: reload: max_header_bytes changed; needs a restart',
        'streamgate: reload: examples changed; needs a restart',
        'streamgate: reload: done',
      ]);
      // examples still served: it needs a restart
      assert.equal((await request(server.url, { path: '/examples/delay/0' })).status, 200);
      // heartbeat_ms is live: an idle SSE stream now gets ":\n" about every 0.5 s
      const sse = curl(`${server.url}/channels/quiet`, { args: ['-H', 'Accept: text/event-stream'], maxTimeS: 30 });
      try {
        await sse.waitHeaders();
        await sse.waitBytes(Buffer.byteLength(': ok\n\n:\n\n'), 5000);
      } finally {
        await sse.kill();
      }
      await server.stop();
    } finally {
      if (server.proc.exitCode === null) await server.stop().catch(() => {});
      cfg.cleanup();
    }
  });

  it('flags still win over the file after a reload', async () => {
    const cfg = configFile({ max_body_bytes: 100 });
    const server = await startServer({ args: ['--config', cfg.file, '--max-body-bytes', '200'] });
    try {
      cfg.write({ max_body_bytes: 50 });
      assert.deepStrictEqual(await reload(server), ['streamgate: reload: done']);
      assert.equal((await postBytes(server.url, 'c', 200)).status, 200);
      expectError(await postBytes(server.url, 'c', 201), 413, 'body_too_large');
      await server.stop();
    } finally {
      if (server.proc.exitCode === null) await server.stop().catch(() => {});
      cfg.cleanup();
    }
  });
});

describe('the listening address', { timeout: 60000 }, () => {
  it('a second gateway on an address in use exits 1 and the first still serves', async () => {
    const port = await freePort();
    const first = await startServer({ listen: `127.0.0.1:${port}` });
    try {
      const r = await runBinary(['--listen', `127.0.0.1:${port}`, '--www', WWW]);
      assert.deepStrictEqual(r, {
        code: 1, signal: null, stdout: '',
        stderr: `streamgate: cannot listen on 127.0.0.1:${port}: address already in use (another process is listening there)\n`,
      });
      // every connection still reaches the first: it sees each publish
      for (let i = 0; i < 20; i++) {
        const res = await request(first.url, { path: '/healthz' });
        assert.deepStrictEqual([res.status, res.text], [200, '{"status":"ok"}']);
      }
      assert.equal((await publish(first.url, 'still', 'here')).channel, 'still');
      assert.equal((await historyOf(first.url, 'still')).count, 1);
      await first.stop();
    } finally {
      if (first.proc.exitCode === null) await first.stop().catch(() => {});
    }
  });

  it('--workers 2 on a fixed port: both workers share it', async () => {
    const port = await freePort();
    const server = await startServer({ listen: `127.0.0.1:${port}`, args: ['--workers', '2'] });
    const subs = [];
    try {
      for (let i = 0; i < 20; i++)
        subs.push(curl(`${server.url}/channels/spread`, { args: ['-H', 'Accept: text/event-stream'], maxTimeS: 30 }));
      for (const s of subs) await s.waitHeaders();
      await waitForConnections(server.url, 20);
      const res = await request(server.url, { path: '/metrics' });
      const per = [...res.text.matchAll(/^streamgate_worker_connections\{worker="(\d+)"\} (\d+)$/gm)].map((m) => Number(m[2]));
      assert.equal(per.length, 2);
      assert.equal(per[0] + per[1], 20);
      assert.ok(per[0] > 0 && per[1] > 0, `connections on both workers: ${per}`);
      await server.stop();
    } finally {
      for (const s of subs) await s.kill();
      if (server.proc.exitCode === null) await server.stop().catch(() => {});
    }
  });
});
