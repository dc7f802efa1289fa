// Resume: with last_event_id=2 after five messages, every transport first
// replays 3, 4, 5 from history, then goes live with 6: no gap, no duplicate.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metrics, publishEach, request, startServer, waitForConnections } from './lib/server.mjs';
import { curl, eventSource, ndjsonLines, wsClient } from './lib/clients.mjs';
import {
  chunkedText, firstUnordered, idParts, envelope, EVENT_NAMES, samples, sseEvents, sseText, withIds,
} from './lib/messages.mjs';

// Resume from the id of the 2nd message: that id is "2" by the
// specification, asserted on its own below; the other tests use the ids the
// publish answers give, so that they check resume whatever the id format.
describe('resume from the 2nd message', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--longpoll-timeout-ms', '1000', '--history-count', '100'] });
  });
  after(async () => {
    await server.stop();
  });

  // Publishes messages 1..5 to a fresh channel. Returns the subscribe URL,
  // the 2nd id (the resume point) and publishSix(subscribers), which
  // publishes the 6th message and returns {replay: 3..5, live: 3..6}.
  async function channelWithFive(name) {
    const ids = await publishEach(server.url, name, samples(1, 5), 0);
    return {
      url: `${server.url}/channels/${name}`,
      second: ids[1],
      replay: withIds(samples(3, 5), ids.slice(2)),
      async publishSix(subscribers) {
        ids.push(...(await publishEach(server.url, name, samples(6, 6), subscribers)));
        return withIds(samples(3, 6), ids.slice(2));
      },
    };
  }

  // A curl subscriber: replay bytes, then live bytes, compared whole.
  async function curlResume(ch, url, args, render) {
    const c = curl(url, { args, maxTimeS: 30 });
    try {
      const replay = Buffer.from(render(ch.replay));
      assert.equal((await c.waitBytes(replay.length)).toString(), replay.toString());
      const live = Buffer.from(render(await ch.publishSix(1)));
      assert.equal((await c.waitBytes(live.length)).toString(), live.toString());
    } finally {
      await c.kill();
    }
  }

  it('ids are MS-SEQ from the wall clock, increasing across channels', async () => {
    const before = BigInt(Date.now());
    const ids = [
      ...(await publishEach(server.url, 'ids-a', samples(1, 3), 0)),
      ...(await publishEach(server.url, 'ids-b', samples(1, 2), 0)),
      ...(await publishEach(server.url, 'ids-a', samples(4, 4), 0)),
    ];
    const after = BigInt(Date.now());
    assert.equal(ids.length, 6);
    assert.equal(firstUnordered(ids), -1);
    for (const id of ids) {
      const [ms] = idParts(id);
      assert.ok(ms >= before && ms <= after, `${id} within [${before}, ${after}]`);
    }
  });

  it('chunked (?last_event_id=2)', async () => {
    const ch = await channelWithFive('resume-chunked');
    await curlResume(ch, `${ch.url}?last_event_id=${ch.second}`, [], chunkedText);
  });

  it('SSE with the Last-Event-ID request header', async () => {
    const ch = await channelWithFive('resume-sse-header');
    await curlResume(ch, ch.url, ['-H', 'Accept: text/event-stream', '-H', `Last-Event-ID: ${ch.second}`], sseText);
  });

  it('SSE with ?last_event_id=2', async () => {
    const ch = await channelWithFive('resume-sse-query');
    await curlResume(ch, `${ch.url}?last_event_id=${ch.second}`, ['-H', 'Accept: text/event-stream'], sseText);
  });

  it('EventSource with the Last-Event-ID request header', async () => {
    const ch = await channelWithFive('resume-eventsource');
    const es = await eventSource(ch.url, { eventNames: EVENT_NAMES, headers: { 'Last-Event-ID': ch.second } });
    try {
      assert.deepStrictEqual(await es.waitCount(3), sseEvents(ch.replay));
      const live = await ch.publishSix(1);
      assert.deepStrictEqual(await es.waitCount(4), sseEvents(live));
      assert.deepStrictEqual(es.errors, []);
    } finally {
      es.close();
    }
  });

  it('ndjson (?transport=ndjson&last_event_id=2)', async () => {
    const name = 'resume-ndjson';
    const ch = await channelWithFive(name);
    const render = (msgs) => msgs.map((m) => `${JSON.stringify(envelope(name, m))}\n`).join('');
    const c = curl(`${ch.url}?transport=ndjson&last_event_id=${ch.second}`, { maxTimeS: 30 });
    try {
      const parse = (buf) => ndjsonLines(buf).map((l) => JSON.parse(l));
      const replay = await c.waitBytes(Buffer.byteLength(render(ch.replay)));
      assert.deepStrictEqual(parse(replay), ch.replay.map((m) => envelope(name, m)));
      const live = await ch.publishSix(1);
      const got = await c.waitBytes(Buffer.byteLength(render(live)));
      assert.deepStrictEqual(parse(got), live.map((m) => envelope(name, m)));
    } finally {
      await c.kill();
    }
  });

  it('WebSocket (?last_event_id=2)', async () => {
    const ch = await channelWithFive('resume-ws');
    const ws = await wsClient(`${ch.url.replace('http:', 'ws:')}?last_event_id=${ch.second}`);
    try {
      await ws.waitCount(3);
      assert.deepStrictEqual(ws.payloads(), ch.replay.map((m) => m.data));
      const live = await ch.publishSix(1);
      await ws.waitCount(4);
      assert.deepStrictEqual(ws.messages, live.map((m) => ({ data: m.data, binary: false })));
    } finally {
      await ws.close();
    }
  });

  it('long-poll: replay, then a waiting poll gets 6, then an empty poll', async () => {
    const name = 'resume-longpoll';
    const ch = await channelWithFive(name);
    const poll = (q) => request(server.url, { path: `/channels/${name}?transport=longpoll${q}`, timeoutMs: 15000 });
    const expectBody = (res, msgs, cursor) => {
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.headers['content-length'], String(res.body.length));
      assert.equal(res.headers['last-event-id'], cursor);
      assert.deepStrictEqual(JSON.parse(res.text), msgs.map((m) => envelope(name, m)));
    };
    const fifth = ch.replay[2].id;
    expectBody(await poll(`&last_event_id=${ch.second}`), ch.replay, fifth);

    // the waiting poll must be registered before 6 is published, so that the
    // publish answer counts it: wait for one more open connection
    const idle = (await metrics(server.url)).streamgate_connections;
    const waiting = poll(`&last_event_id=${fifth}`);
    await waitForConnections(server.url, idle + 1);
    const live = await ch.publishSix(1);
    const sixth = live[3].id;
    expectBody(await waiting, live.slice(3), sixth);

    expectBody(await poll(`&last_event_id=${sixth}`), [], sixth);
    expectBody(await poll(''), [], sixth);
  });
});
