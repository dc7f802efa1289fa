// A client that stops reading must never make the gateway hold unbounded
// memory. --slow-policy disconnect cuts it (WebSocket: close 1008 "slow
// consumer"); drop_oldest keeps it connected, drops queued frames and counts
// them, and the client later gets an intact, ordered tail of the stream.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  metrics, publish, rssBytes, startServer, waitFor, waitForConnections, withTimeout,
} from './lib/server.mjs';
import { stalledGet, wsClient } from './lib/clients.mjs';

const QUEUE = 65536;
const SIZE = 32768; // bytes of data per message
const MAX_MESSAGES = 4096; // 4096 x 32 KiB = 128 MiB published at most
const MIB = 1024 * 1024;
// 128 MiB go to a client that reads nothing. History (16 x 32 KiB) and one
// queue (64 KiB) are all the server needs to keep; RSS growing by more than
// 32 MiB means it held what the client did not read.
const RSS_GROWTH_LIMIT = 32 * MIB;
const RSS_LIMIT = 100 * MIB;

const data = (i) => `m${i}:`.padEnd(SIZE, 'x');

function serverArgs(policy) {
  return ['--queue-bytes', String(QUEUE), '--slow-policy', policy, '--history-count', '16'];
}

// Under AddressSanitizer freed memory stays resident in its quarantine
// (256 MiB by default) to catch use-after-free; RSS would then measure that
// policy, not what the server holds. Other builds ignore the variable.
const ASAN_ENV = {
  ASAN_OPTIONS: [process.env.ASAN_OPTIONS, 'quarantine_size_mb=0'].filter(Boolean).join(':'),
};

function start(policy) {
  return startServer({ args: serverArgs(policy), env: ASAN_ENV });
}

// Publishes until a message reaches no subscriber; returns how many were sent.
async function publishUntilCut(base, channel) {
  for (let i = 1; i <= MAX_MESSAGES; i++) {
    const answer = await publish(base, channel, data(i));
    if (answer.subscribers === 0) return i;
    assert.equal(answer.subscribers, 1);
  }
  assert.fail(`still subscribed after ${MAX_MESSAGES} messages of ${SIZE} bytes`);
}

// Publishes all MAX_MESSAGES; each must reach the one (stalled) subscriber.
async function publishAll(base, channel) {
  for (let i = 1; i <= MAX_MESSAGES; i++) {
    assert.equal((await publish(base, channel, data(i))).subscribers, 1);
  }
}

// Decodes a raw HTTP/1.1 chunked response (headers + possibly partial body).
function decodeChunked(raw) {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) return { head: null, body: Buffer.alloc(0) };
  const head = raw.subarray(0, headEnd).toString('latin1');
  const parts = [];
  let pos = headEnd + 4;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', pos);
    if (lineEnd < 0) break;
    const len = parseInt(raw.subarray(pos, lineEnd).toString('latin1'), 16);
    assert.ok(Number.isInteger(len), 'chunk size line');
    if (len === 0 || lineEnd + 2 + len + 2 > raw.length) break;
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + len));
    pos = lineEnd + 2 + len + 2;
  }
  return { head, body: Buffer.concat(parts) };
}

// The messages a drop_oldest client got must be intact, strictly increasing
// and end with the last one; together with the dropped ones they are all.
function assertOrderedTail(received, dropped) {
  const ids = received.map((d) => Number(/^m(\d+):/.exec(d)?.[1]));
  assert.deepStrictEqual(received, ids.map(data), 'every received message is intact');
  for (let k = 1; k < ids.length; k++) assert.ok(ids[k] > ids[k - 1], `ids increase: ${ids[k - 1]}, ${ids[k]}`);
  assert.equal(ids[ids.length - 1], MAX_MESSAGES);
  assert.equal(received.length + dropped, MAX_MESSAGES, 'received + dropped = published');
}

describe('slow consumers', { timeout: 180000 }, () => {
  it('disconnect policy: a stalled HTTP client is cut and counted', async () => {
    const server = await start('disconnect');
    try {
      const idle = (await metrics(server.url)).streamgate_connections;
      const client = await stalledGet(server.port, '/channels/slow-http');
      await waitForConnections(server.url, idle + 1);
      const sent = await publishUntilCut(server.url, 'slow-http');
      assert.ok(sent > 1);
      const m = await metrics(server.url);
      assert.equal(m.streamgate_slow_disconnects_total, 1);
      assert.equal(m.streamgate_connections, idle);
      client.socket.resume(); // drain what the kernel holds, then see the close
      await withTimeout(client.closed, 30000, 'server closes the slow HTTP connection');
    } finally {
      await server.stop();
    }
  });

  it('disconnect policy: a stalled WebSocket gets close 1008 "slow consumer"', async () => {
    const server = await start('disconnect');
    try {
      const idle = (await metrics(server.url)).streamgate_connections;
      const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/slow-ws`);
      ws.ws.pause();
      await waitForConnections(server.url, idle + 1);
      const sent = await publishUntilCut(server.url, 'slow-ws');
      assert.ok(sent > 1);
      const m = await metrics(server.url);
      assert.equal(m.streamgate_slow_disconnects_total, 1);
      ws.ws.resume();
      assert.deepStrictEqual(await ws.waitClosed(), { code: 1008, reason: 'slow consumer' });
      // whatever arrived before the close is intact and in order from 1
      assert.deepStrictEqual(ws.payloads(), ws.payloads().map((_, k) => data(k + 1)));
    } finally {
      await server.stop();
    }
  });

  // Publishes everything to channel while its one subscriber reads nothing:
  // memory stays bounded, frames are dropped, the subscriber stays. Returns
  // the metrics after.
  async function publishToStalled(t, server, channel, idle) {
    const rssBefore = rssBytes(server.pid);
    await publishAll(server.url, channel);
    const rssAfter = rssBytes(server.pid);
    t.diagnostic(`RSS ${rssBefore} -> ${rssAfter} bytes after ${MAX_MESSAGES * SIZE} bytes published`);
    assert.ok(rssAfter - rssBefore < RSS_GROWTH_LIMIT, `RSS grew ${rssAfter - rssBefore} bytes`);
    assert.ok(rssAfter < RSS_LIMIT, `RSS ${rssAfter} bytes`);
    const m = await metrics(server.url);
    assert.ok(m.streamgate_frames_dropped_total > 0, 'frames were dropped');
    assert.equal(m.streamgate_slow_disconnects_total, 0);
    assert.equal(m.streamgate_connections, idle + 1);
    return m;
  }

  it('drop_oldest policy: a stalled HTTP client stays, memory stays bounded', async (t) => {
    const server = await start('drop_oldest');
    try {
      const idle = (await metrics(server.url)).streamgate_connections;
      const client = await stalledGet(server.port, '/channels/drop-http');
      await waitForConnections(server.url, idle + 1);
      const m = await publishToStalled(t, server, 'drop-http', idle);

      const chunks = [];
      client.socket.on('data', (d) => chunks.push(d));
      client.socket.resume();
      const tail = Buffer.from(`${data(MAX_MESSAGES)}\n`);
      const { head, body } = await waitFor(() => {
        const r = decodeChunked(Buffer.concat(chunks));
        return r.body.length >= tail.length && r.body.subarray(-tail.length).equals(tail) ? r : null;
      }, { timeoutMs: 30000, intervalMs: 100, what: 'the last message on the resumed HTTP client' });
      assert.match(head, /^HTTP\/1\.1 200 /);
      const lines = body.toString('utf8').split('\n');
      assert.equal(lines.pop(), '');
      assertOrderedTail(lines, m.streamgate_frames_dropped_total);
      client.socket.destroy();
    } finally {
      await server.stop();
    }
  });

  it('drop_oldest policy: a stalled WebSocket stays, memory stays bounded', async (t) => {
    const server = await start('drop_oldest');
    try {
      const idle = (await metrics(server.url)).streamgate_connections;
      const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/drop-ws`);
      ws.ws.pause();
      await waitForConnections(server.url, idle + 1);
      const m = await publishToStalled(t, server, 'drop-ws', idle);

      ws.ws.resume();
      await waitFor(() => ws.messages.at(-1)?.data === data(MAX_MESSAGES), {
        timeoutMs: 30000, intervalMs: 50, what: 'the last message on the resumed WebSocket',
      });
      assert.ok(ws.messages.every((msg) => msg.binary === false));
      assertOrderedTail(ws.payloads(), m.streamgate_frames_dropped_total);
      assert.equal((await ws.close()).code, 1000);
    } finally {
      await server.stop();
    }
  });
});
