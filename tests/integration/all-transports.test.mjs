// Six clients, one per transport, subscribed to one channel at once; 1,000
// published messages must reach every one of them complete, in order and
// byte-exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metrics, publishEach, startServer, waitForConnections } from './lib/server.mjs';
import { curl, eventSource, longPoll, ndjsonLines, wsClient } from './lib/clients.mjs';
import {
  chunkedText, firstUnordered, envelope, ENVELOPE_KEYS, EVENT_NAMES, samples, sseEvents, sseText, withIds,
} from './lib/messages.mjs';

const COUNT = 1000;
const CHANNEL = 'all.transports:1';

test('every transport receives the same 1,000 messages exactly', { timeout: 120000 }, async () => {
  // history large enough that the long-poll client never loses a message
  // between two polls, queues large enough that nothing is dropped
  const server = await startServer({
    args: ['--history-count', '2000', '--queue-bytes', '16777216', '--longpoll-timeout-ms', '1000'],
  });
  const sub = `${server.url}/channels/${CHANNEL}`;
  const clients = [];
  try {
    const idle = (await metrics(server.url)).streamgate_connections;
    assert.equal(typeof idle, 'number', 'streamgate_connections is reported');

    const chunked = curl(sub);
    const sse = curl(sub, { args: ['-H', 'Accept: text/event-stream'] });
    const ndjson = curl(`${sub}?transport=ndjson`);
    clients.push(chunked, sse, ndjson);
    const es = await eventSource(sub, { eventNames: EVENT_NAMES });
    clients.push(es);
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/${CHANNEL}`);
    clients.push(ws);
    const lp = longPoll(server.url, CHANNEL, { from: '0', want: COUNT });
    await lp.started;

    const head = { 'transfer-encoding': 'chunked', 'cache-control': 'no-cache' };
    for (const [c, type] of [[chunked, 'text/plain; charset=utf-8'], [sse, 'text/event-stream'],
      [ndjson, 'application/x-ndjson']]) {
      const { status, headers } = await c.waitHeaders();
      assert.equal(status, 200);
      assert.deepEqual(
        { 'content-type': headers['content-type'], 'transfer-encoding': headers['transfer-encoding'], 'cache-control': headers['cache-control'] },
        { 'content-type': type, ...head });
    }
    await waitForConnections(server.url, idle + 6);

    // the long-poll client is a subscriber only while a poll is waiting
    const ids = await publishEach(server.url, CHANNEL, samples(1, COUNT), (n) => n === 5 || n === 6);
    // every client must see the ids the publisher was given; that these are
    // well-formed and increasing is asserted last, after every transport
    const msgs = withIds(samples(1, COUNT), ids);

    const chunkedWant = Buffer.from(chunkedText(msgs), 'utf8');
    assert.equal((await chunked.waitBytes(chunkedWant.length)).toString('utf8'), chunkedWant.toString('utf8'));

    const sseWant = Buffer.from(sseText(msgs), 'utf8');
    assert.equal((await sse.waitBytes(sseWant.length)).toString('utf8'), sseWant.toString('utf8'));

    const ndjsonWant = msgs.map((m) => envelope(CHANNEL, m));
    const ndjsonBytes = Buffer.byteLength(ndjsonWant.map((e) => `${JSON.stringify(e)}\n`).join(''));
    const lines = ndjsonLines(await ndjson.waitBytes(ndjsonBytes));
    const parsed = lines.map((l) => JSON.parse(l));
    assert.deepStrictEqual(parsed, ndjsonWant);
    for (const p of parsed) assert.deepStrictEqual(Object.keys(p), ENVELOPE_KEYS);
    // compact: where no escaping choice exists (ASCII data), the exact bytes
    lines.forEach((l, i) => {
      if (/^[\x20-\x7e]*$/.test(msgs[i].data)) assert.equal(l, JSON.stringify(ndjsonWant[i]));
    });

    assert.deepStrictEqual(await es.waitCount(COUNT), sseEvents(msgs));
    assert.deepStrictEqual(es.errors, []);

    await ws.waitCount(COUNT);
    assert.deepStrictEqual(ws.messages, msgs.map((m) => ({ data: m.data, binary: false })));

    const { messages: polled } = await lp.done;
    assert.deepStrictEqual(polled, ndjsonWant);
    for (const p of polled) assert.deepStrictEqual(Object.keys(p), ENVELOPE_KEYS);

    const m = await metrics(server.url);
    assert.equal(m.streamgate_messages_published_total, COUNT);
    assert.equal(m.streamgate_frames_dropped_total, 0);
    assert.equal(m.streamgate_slow_disconnects_total, 0);

    assert.equal(ids.length, COUNT);
    assert.equal(firstUnordered(ids), -1, 'ids are MS-SEQ and strictly increasing');
  } finally {
    for (const c of clients) await c.close?.();
    for (const c of clients) if (c.kill) await c.kill();
    await server.stop();
  }
});

// A message with a line break, and an empty one, as each line-based
// transport writes them: plain chunked is "data\n", so a line reader sees
// two lines for "one\ntwo" and an empty line (a heartbeat's bytes) for "";
// ndjson and SSE keep the framing.
test('a two-line message and an empty one: exact bytes on chunked, ndjson and SSE', { timeout: 30000 }, async () => {
  const server = await startServer({ args: ['--heartbeat-ms', '0'] });
  const sub = `${server.url}/channels/lines`;
  const chunked = curl(sub);
  const ndjson = curl(`${sub}?transport=ndjson`);
  const sse = curl(sub, { args: ['-H', 'Accept: text/event-stream'] });
  try {
    for (const c of [chunked, ndjson, sse]) await c.waitHeaders();
    const [a, b] = await publishEach(server.url, 'lines', [{ body: 'one\ntwo' }, { body: '' }], 3);
    const want = {
      chunked: 'one\ntwo\n\n',
      ndjson: `{"channel":"lines","id":"${a}","event":null,"data":"one\\ntwo"}\n`
        + `{"channel":"lines","id":"${b}","event":null,"data":""}\n`,
      sse: `: ok\n\nid: ${a}\ndata: one\ndata: two\n\nid: ${b}\ndata: \n\n`,
    };
    for (const [name, c] of [['chunked', chunked], ['ndjson', ndjson], ['sse', sse]]) {
      const got = await c.waitBytes(Buffer.byteLength(want[name]));
      assert.equal(got.toString('utf8'), want[name], name);
    }
  } finally {
    for (const c of [chunked, ndjson, sse]) await c.kill();
    await server.stop();
  }
});
