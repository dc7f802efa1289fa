// Several channels on one connection (GET /channels/a,b,c): every transport
// gets JSON envelopes naming the channel, in publish order, and one
// last_event_id resumes all of them, merged in id order. Also ?format=,
// the 16-channel limit, channel info and DELETE.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  expectError, metrics, publish, publishEach, request, startServer, waitForConnections,
} from './lib/server.mjs';
import { curl, expectStreams, longPoll, streamsOn, wsClient } from './lib/clients.mjs';
import { chunkedText, envelope, samples, sseText, SSE_PRELUDE } from './lib/messages.mjs';

const CHANNELS = ['mx.a', 'mx.b', 'mx.c'];
const LIST = CHANNELS.join(',');
// which channel each of samples 1..12 goes to; mx.other is not subscribed
const ROUTE = ['mx.a', 'mx.b', 'mx.c', 'mx.b', 'mx.other', 'mx.a', 'mx.c', 'mx.c', 'mx.a', 'mx.other', 'mx.b', 'mx.a'];

// Publishes samples first..last along ROUTE; returns [{channel, id, data,
// event}] in publish order (ids increase: one gateway-wide sequence).
async function publishRouted(base, first, last, subscribers) {
  const out = [];
  for (let i = first; i <= last; i++) {
    const m = samples(i, i)[0];
    const channel = ROUTE[(i - 1) % ROUTE.length];
    const [id] = await publishEach(base, channel, [m], subscribers(channel));
    out.push({ channel, id, data: m.data, event: m.event });
  }
  return out;
}

const env = (m) => JSON.stringify(envelope(m.channel, m));
// SSE with envelopes: the id and event lines stay, data is the envelope.
// tagged SSE has no event: line (the envelope carries the event), so every
// message reaches an EventSource's onmessage
const sseTagged = (msgs) => SSE_PRELUDE + msgs.map((m) => `id: ${m.id}\ndata: ${env(m)}\n\n`).join('');

// What every streaming transport must carry for msgs on a multi-channel
// connection: envelopes everywhere.
function taggedWant(msgs) {
  const lines = msgs.map((m) => `${env(m)}\n`).join('');
  return {
    header: undefined, chunked: lines, chunkedJson: lines, ndjson: lines, sse: sseTagged(msgs),
    ws: msgs.map(env), wsJson: msgs.map(env),
  };
}

describe('several channels on one connection', { timeout: 60000 }, () => {
  let server;
  const subscribed = new Set(CHANNELS);
  let first; // what the first test published
  before(async () => {
    server = await startServer({ args: ['--history-count', '100', '--longpoll-timeout-ms', '1000'] });
  });
  after(async () => {
    await server.stop();
  });

  it('GET /channels/a,b,c: every transport gets tagged envelopes in publish order', async () => {
    const streams = await streamsOn(server, `/channels/${LIST}`);
    // 6 streaming subscribers on each of the three channels
    first = await publishRouted(server.url, 1, 12, (c) => (subscribed.has(c) ? 6 : 0));
    await expectStreams(streams, taggedWant(first.filter((m) => subscribed.has(m.channel))));
  });

  it('long-poll on a,b,c: the merged history, then a waiting poll answered by any of them', async () => {
    const all = first.filter((m) => subscribed.has(m.channel));
    assert.deepStrictEqual(all.map((m) => m.channel), ROUTE.filter((c) => subscribed.has(c)));
    const mine = await request(server.url, { path: `/channels/${LIST}?transport=longpoll&last_event_id=0` });
    assert.deepStrictEqual([mine.status, mine.headers['last-event-id'], mine.headers['x-streamgate-gap']],
      [200, all[9].id, undefined]);
    assert.equal(mine.text, `[${all.map(env).join(',')}]`);

    const idle = (await metrics(server.url)).streamgate_connections;
    const lp = longPoll(server.url, LIST, { from: all[9].id, want: 1 });
    await lp.started;
    await waitForConnections(server.url, idle + 1);
    const { id } = await publish(server.url, 'mx.b', 'for b');
    const { messages } = await lp.done;
    assert.deepStrictEqual(messages, [{ channel: 'mx.b', id, event: null, data: 'for b' }]);
  });

  it('one last_event_id resumes all three, merged in id order, then live', async () => {
    const msgs = await publishRouted(server.url, 1, 12, () => 0);
    const from = msgs[2].id; // after the 3rd: 4..12 on a, b, c are due
    const due = msgs.slice(3).filter((m) => subscribed.has(m.channel));
    assert.deepStrictEqual(due.map((m) => m.channel), ROUTE.slice(3).filter((c) => subscribed.has(c)));

    const lp = await request(server.url, { path: `/channels/${LIST}?transport=longpoll&last_event_id=${from}` });
    assert.equal(lp.text, `[${due.map(env).join(',')}]`);
    assert.equal(lp.headers['last-event-id'], due[due.length - 1].id);

    const streams = await streamsOn(server, `/channels/${LIST}`, `last_event_id=${from}`);
    const { id } = await publish(server.url, 'mx.c', 'live c');
    await expectStreams(streams, taggedWant([...due, { channel: 'mx.c', id, event: null, data: 'live c' }]));
  });

  it('resuming channels first published after the resume point: no gap (nothing was dropped)', async () => {
    // fresh.a gets the resume point; fresh.b and fresh.c come into being
    // after it, so their whole histories are after it and vouch for it
    const names = ['fresh.a', 'fresh.b', 'fresh.c'];
    const msgs = [];
    for (const [k, channel] of ['fresh.a', 'fresh.b', 'fresh.c', 'fresh.a', 'fresh.c'].entries()) {
      const { id } = await publish(server.url, channel, `f${k + 1}`);
      msgs.push({ channel, id, data: `f${k + 1}`, event: null });
    }
    const due = msgs.slice(1);
    const lp = await request(server.url, { path: `/channels/${names.join(',')}?transport=longpoll&last_event_id=${msgs[0].id}` });
    assert.deepStrictEqual([lp.status, lp.headers['x-streamgate-gap'], lp.headers['last-event-id']],
      [200, undefined, due[due.length - 1].id], 'long-poll headers');
    assert.equal(lp.text, `[${due.map(env).join(',')}]`);
    const streams = await streamsOn(server, `/channels/${names.join(',')}`, `last_event_id=${msgs[0].id}`);
    await expectStreams(streams, taggedWant(due));
  });

  it('16 channels are allowed, 17 are 400 too_many_channels (WebSocket: close 1008)', async () => {
    const names = (n) => Array.from({ length: n }, (_, k) => `many.${k + 1}`).join(',');
    const c = curl(`${server.url}/channels/${names(16)}`, { maxTimeS: 30 });
    try {
      assert.equal((await c.waitHeaders()).status, 200);
      const { id } = await publish(server.url, 'many.16', 'sixteen');
      const want = `${JSON.stringify({ channel: 'many.16', id, event: null, data: 'sixteen' })}\n`;
      assert.equal((await c.waitBytes(Buffer.byteLength(want))).toString(), want);
    } finally {
      await c.kill();
    }
    for (const q of ['', '?transport=ndjson', '?transport=longpoll']) {
      expectError(await request(server.url, { path: `/channels/${names(17)}${q}` }), 400, 'too_many_channels');
    }
    expectError(await request(server.url, {
      path: `/channels/${names(17)}`, headers: { Accept: 'text/event-stream' },
    }), 400, 'too_many_channels');
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/${names(17)}`);
    const closed = await ws.waitClosed(10000);
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /^too_many_channels: /);
    assert.deepStrictEqual(ws.messages, []);
    for (const bad of ['a,,b', ',a', 'a,', 'a,b c']) {
      expectError(await request(server.url, { path: `/channels/${bad.replace(' ', '%20')}` }), 400, 'bad_channel');
    }
  });

  it('?format=json makes a single channel tagged; ?format=plain does not untag several', async () => {
    const streams = await streamsOn(server, '/channels/solo', 'format=json');
    const m = { channel: 'solo', ...samples(1, 1)[0] };
    m.id = (await publish(server.url, 'solo', m.body)).id;
    await expectStreams(streams, taggedWant([m]));

    const plain = curl(`${server.url}/channels/solo?format=plain`, { maxTimeS: 30 });
    const several = curl(`${server.url}/channels/solo,duo?format=plain`, { maxTimeS: 30 });
    try {
      await plain.waitHeaders();
      await several.waitHeaders();
      const p = { channel: 'solo', ...samples(3, 3)[0] };
      p.id = (await publish(server.url, 'solo', p.body)).id;
      assert.equal((await plain.waitBytes(Buffer.byteLength(chunkedText([p])))).toString(), chunkedText([p]));
      assert.equal((await several.waitBytes(Buffer.byteLength(`${env(p)}\n`))).toString(), `${env(p)}\n`);
    } finally {
      await plain.kill();
      await several.kill();
    }
    expectError(await request(server.url, { path: '/channels/solo?format=xml' }), 400, 'bad_format');
  });
});

describe('channel info and DELETE', { timeout: 60000 }, () => {
  it('info has the exact shape; DELETE ends every subscriber cleanly, then info is 404', async () => {
    const server = await startServer({ args: ['--longpoll-timeout-ms', '20000'] });
    const url = `${server.url}/channels/del`;
    const chunked = curl(url, { maxTimeS: 30 });
    const sse = curl(url, { args: ['-H', 'Accept: text/event-stream'], maxTimeS: 30 });
    const ndjson = curl(`${url}?transport=ndjson`, { maxTimeS: 30 });
    let ws;
    try {
      ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/del`);
      for (const c of [chunked, sse, ndjson]) await c.waitHeaders();
      const msgs = samples(1, 3);
      const ids = await publishEach(server.url, 'del', msgs, 4);
      msgs.forEach((m, k) => (m.id = ids[k]));
      const bytes = msgs.reduce((n, m) => n + Buffer.byteLength(m.data), 0);
      const info = await request(server.url, { path: '/channels/del/info' });
      assert.deepStrictEqual([info.status, info.headers['content-type']], [200, 'application/json']);
      assert.equal(info.text, `{"channel":"del","subscribers":4,"history":{"count":3,"bytes":${bytes},`
        + `"first_id":"${ids[0]}","last_id":"${ids[2]}"}}`);

      // a long-poll waiting at the end counts as a fifth subscriber
      const idle = (await metrics(server.url)).streamgate_connections;
      const waiting = request(server.url, { path: `/channels/del?transport=longpoll&last_event_id=${ids[2]}`, timeoutMs: 15000 });
      await waitForConnections(server.url, idle + 1);

      const res = await request(server.url, { method: 'DELETE', path: '/channels/del' });
      assert.deepStrictEqual([res.status, res.headers['content-type'], res.text],
        [200, 'application/json', '{"channel":"del","deleted":true,"subscribers":5}']);

      const lp = await waiting;
      assert.deepStrictEqual([lp.status, lp.text, lp.headers['last-event-id']], [200, '[]', ids[2]]);
      const c = await chunked.done;
      assert.deepStrictEqual([c.code, c.stdout.toString()], [0, chunkedText(msgs)]);
      const s = await sse.done;
      assert.deepStrictEqual([s.code, s.stdout.toString()], [0, sseText(msgs)]);
      const n = await ndjson.done;
      assert.deepStrictEqual([n.code, n.stdout.toString()],
        [0, msgs.map((m) => `${JSON.stringify(envelope('del', m))}\n`).join('')]);
      assert.equal((await ws.waitClosed(10000)).code, 1000);
      assert.deepStrictEqual(ws.payloads(), msgs.map((m) => m.data));

      expectError(await request(server.url, { path: '/channels/del/info' }), 404, 'no_such_channel');
      expectError(await request(server.url, { method: 'DELETE', path: '/channels/del' }), 404, 'no_such_channel');
      expectError(await request(server.url, { path: '/channels/never/info' }), 404, 'no_such_channel');
      expectError(await request(server.url, { path: '/channels/bad!name/info' }), 400, 'bad_channel');
      await waitForConnections(server.url, idle - 4);
    } finally {
      for (const c of [chunked, sse, ndjson]) await c.kill();
      await ws?.close();
      await server.stop();
    }
  });
});
