// The embedding API's hook order, through tests/embed/hooks.c (sg-hooks):
// /h/NAME streams c1, c2, ... every 20 ms (?close_after=N: the handler
// closes after N), before_close sends "bye", and every hook of every stream
// is logged on stdout as "NAME hook [detail]". For each transport and each
// way a stream ends (the handler closes it, the server stops, the client
// vanishes) the whole log of the stream and what the client received are
// compared exactly. after_close must run exactly once in every case.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { BIN, exited, request, waitFor, withTimeout } from './lib/server.mjs';
import { curl, wsClient } from './lib/clients.mjs';
import { completeLines, parseSse } from './lib/messages.mjs';

const HOOKS_BIN = process.env.STREAMGATE_HOOKS_BIN || path.join(path.dirname(BIN), 'tests/embed/sg-hooks');

// Starts sg-hooks; resolves once it printed "port P".
async function startHooks() {
  const proc = spawn(HOOKS_BIN, [], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  proc.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  const lines = () => completeLines(out);
  try {
    const port = await withTimeout(new Promise((resolve, reject) => {
      proc.once('error', reject);
      proc.once('exit', (code) => reject(new Error(`sg-hooks exited (${code}) before ready: ${err}`)));
      const check = () => {
        const m = /^port (\d+)$/.exec(lines()[0] ?? '');
        if (m) resolve(Number(m[1]));
      };
      proc.stdout.on('data', check);
    }), 10000, `"port P" from ${HOOKS_BIN}`);
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      lines,
      // the hook lines of stream NAME, without the name
      log: (name) => lines().filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1)),
      async waitClosed(name) {
        await waitFor(() => this.log(name).some((l) => l.startsWith('after_close')),
          { timeoutMs: 10000, what: `after_close of ${name}` });
      },
      // SIGTERM; asserts exit 0 and that "exit" is the last line.
      async stop() {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
        let r;
        try {
          r = await withTimeout(exited(proc), 10000, 'sg-hooks exit after SIGTERM');
        } catch (e) {
          proc.kill('SIGKILL');
          throw e;
        }
        // 'exit' may come before the last stdout data: wait for the line
        await waitFor(() => lines().at(-1) === 'exit', { timeoutMs: 5000, what: '"exit" from sg-hooks' });
        assert.deepStrictEqual(r, { code: 0, signal: null }, `sg-hooks exit; stderr: ${err}`);
      },
      kill: () => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL'),
    };
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
}

const chunksUpTo = (k) => Array.from({ length: k }, (_, j) => `c${j + 1}`);
const pairs = (chunks) => chunks.flatMap((c) => [`before_chunk ${c}`, 'after_chunk']);
// the log of a stream that ends gracefully after `chunks` (before_close
// sends "bye"), and of one whose client vanished after them
const graceful = (transport, chunks) =>
  [`after_open ${transport}`, ...pairs(chunks), 'before_close', ...pairs(['bye']), 'after_close closed'];
const vanished = (transport, chunks) => [`after_open ${transport}`, ...pairs(chunks), 'after_close closed'];
// the c-chunks a log shows were sent
const sentChunks = (log) => log.filter((l) => /^before_chunk c\d+$/.test(l)).map((l) => l.slice('before_chunk '.length));

// One client per streaming transport: received() are the chunks it got so
// far (complete ones), vanish() cuts it without a goodbye, end() resolves
// with {chunks, ending}: the curl exit code or the WebSocket close code.
// text(chunks) is the exact body a curl client must have for those chunks.
const CLIENTS = {
  chunked: {
    text: (chunks) => chunks.map((c) => `${c}\n`).join(''),
    open: (url) => curlClient(url, [], (t) => completeLines(t)),
  },
  sse: {
    // chunks carry no id or event: a bare data line each
    text: (chunks) => `: ok\n\n${chunks.map((c) => `data: ${c}\n\n`).join('')}`,
    open: (url) => curlClient(url, ['-H', 'Accept: text/event-stream'], (t) => parseSse(t).map((e) => e.data)),
  },
  ws: {
    async open(url) {
      const ws = await wsClient(url.replace('http:', 'ws:'));
      return {
        received: () => ws.payloads(),
        vanish: () => ws.ws.terminate(),
        async end() {
          const { code } = await ws.waitClosed(10000);
          return { chunks: ws.payloads(), ending: code };
        },
      };
    },
  },
};

function curlClient(url, args, parse) {
  const c = curl(url, { args, maxTimeS: 30 });
  return {
    received: () => parse(c.stdout().toString('utf8')),
    vanish: () => c.kill('SIGKILL'),
    async end() {
      const r = await withTimeout(c.done, 10000, `curl ${url} to end`);
      return { chunks: parse(r.stdout.toString('utf8')), ending: r.code, text: r.stdout.toString('utf8') };
    },
  };
}

describe('hook order', { timeout: 120000 }, () => {
  for (const [transport, client] of Object.entries(CLIENTS)) {
    it(`${transport}: the handler closes after 3 chunks`, async () => {
      const h = await startHooks();
      try {
        const c = await client.open(`${h.url}/h/closes?close_after=3`);
        const { chunks, ending, text } = await c.end();
        await h.waitClosed('closes');
        await h.stop();
        assert.deepStrictEqual(h.log('closes'), graceful(transport, ['c1', 'c2', 'c3']));
        assert.deepStrictEqual(chunks, ['c1', 'c2', 'c3', 'bye']);
        assert.equal(ending, transport === 'ws' ? 1000 : 0);
        if (client.text) assert.equal(text, client.text(chunks));
      } finally {
        h.kill();
      }
    });

    it(`${transport}: the server stops mid-stream (SIGTERM)`, async () => {
      const h = await startHooks();
      try {
        const c = await client.open(`${h.url}/h/stops`);
        await waitFor(() => c.received().length >= 2, { timeoutMs: 10000, what: '2 chunks' });
        await h.stop();
        const log = h.log('stops');
        const sent = sentChunks(log);
        assert.deepStrictEqual(sent, chunksUpTo(sent.length));
        assert.ok(sent.length >= 2, `${sent.length} chunks sent`);
        assert.deepStrictEqual(log, graceful(transport, sent));
        const { chunks, ending, text } = await c.end();
        assert.deepStrictEqual(chunks, [...sent, 'bye']);
        assert.equal(ending, transport === 'ws' ? 1001 : 0);
        if (client.text) assert.equal(text, client.text(chunks));
      } finally {
        h.kill();
      }
    });

    it(`${transport}: the client vanishes mid-stream`, async () => {
      const h = await startHooks();
      try {
        const c = await client.open(`${h.url}/h/vanishes`);
        await waitFor(() => c.received().length >= 2, { timeoutMs: 10000, what: '2 chunks' });
        c.vanish();
        const { chunks } = await c.end();
        await h.waitClosed('vanishes');
        // still serving others after the vanished stream was released
        const other = await request(h.url, { path: '/h/after?transport=longpoll&close_after=1' });
        assert.equal(other.status, 200);
        await h.stop();
        const log = h.log('vanishes');
        const sent = sentChunks(log);
        assert.deepStrictEqual(sent, chunksUpTo(sent.length));
        assert.deepStrictEqual(log, vanished(transport, sent));
        // what arrived before the cut: the first of the chunks sent
        assert.ok(chunks.length >= 2 && chunks.length <= sent.length, `${chunks.length} of ${sent.length} chunks`);
        assert.deepStrictEqual(chunks, chunksUpTo(chunks.length));
      } finally {
        h.kill();
      }
    });
  }

  it('longpoll (one answer per request): close_after=1 answers c1 and bye together', async () => {
    const h = await startHooks();
    try {
      const res = await request(h.url, { path: '/h/polls?transport=longpoll&close_after=1' });
      await h.waitClosed('polls');
      await h.stop();
      assert.deepStrictEqual(h.log('polls'), graceful('longpoll', ['c1']));
      assert.deepStrictEqual([res.status, res.headers['content-type'], res.headers['content-length'], res.headers['last-event-id']],
        [200, 'application/json', String(res.body.length), '0']);
      const env = (data) => ({ channel: '', id: null, event: null, data });
      assert.equal(res.text, JSON.stringify([env('c1'), env('bye')]));
    } finally {
      h.kill();
    }
  });
});
