// Resume: with last_event_id=2 after five messages, every transport first
// replays 3, 4, 5 from history, then goes live with 6: no gap, no duplicate.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metrics, publish, request, startServer, waitForConnections } from './lib/server.mjs';
import { curl, eventSource, ndjsonLines, wsClient } from './lib/clients.mjs';
import { chunkedText, envelope, EVENT_NAMES, samples, sseEvents, sseText } from './lib/messages.mjs';

const ALL = samples(1, 6);
const REPLAY = ALL.slice(2, 5); // ids 3, 4, 5
const LIVE = ALL.slice(2, 6); // ids 3..6

describe('resume from last_event_id=2', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--longpoll-timeout-ms', '1000', '--history-count', '100'] });
  });
  after(async () => {
    await server.stop();
  });

  // Publishes messages 1..5 to a fresh channel; returns its subscribe URL.
  async function channelWithFive(name) {
    for (const m of ALL.slice(0, 5)) assert.equal((await publish(server.url, name, m.body)).id, m.id);
    return `${server.url}/channels/${name}`;
  }

  async function publishSix(name, subscribers) {
    assert.deepEqual(await publish(server.url, name, ALL[5].body), { channel: name, id: '6', subscribers });
  }

  // A curl subscriber: replay bytes, then live bytes, compared whole.
  async function curlResume(name, url, args, render) {
    const c = curl(url, { args, maxTimeS: 30 });
    try {
      const replay = Buffer.from(render(REPLAY));
      assert.equal((await c.waitBytes(replay.length)).toString(), replay.toString());
      await publishSix(name, 1);
      const live = Buffer.from(render(LIVE));
      assert.equal((await c.waitBytes(live.length)).toString(), live.toString());
    } finally {
      await c.kill();
    }
  }

  it('chunked (?last_event_id=2)', async () => {
    const url = await channelWithFive('resume-chunked');
    await curlResume('resume-chunked', `${url}?last_event_id=2`, [], chunkedText);
  });

  it('SSE with the Last-Event-ID request header', async () => {
    const url = await channelWithFive('resume-sse-header');
    await curlResume('resume-sse-header', url,
      ['-H', 'Accept: text/event-stream', '-H', 'Last-Event-ID: 2'], sseText);
  });

  it('SSE with ?last_event_id=2', async () => {
    const url = await channelWithFive('resume-sse-query');
    await curlResume('resume-sse-query', `${url}?last_event_id=2`, ['-H', 'Accept: text/event-stream'], sseText);
  });

  it('EventSource with the Last-Event-ID request header', async () => {
    const url = await channelWithFive('resume-eventsource');
    const es = await eventSource(url, { eventNames: EVENT_NAMES, headers: { 'Last-Event-ID': '2' } });
    try {
      assert.deepStrictEqual(await es.waitCount(3), sseEvents(REPLAY));
      await publishSix('resume-eventsource', 1);
      assert.deepStrictEqual(await es.waitCount(4), sseEvents(LIVE));
      assert.deepStrictEqual(es.errors, []);
    } finally {
      es.close();
    }
  });

  it('ndjson (?transport=ndjson&last_event_id=2)', async () => {
    const name = 'resume-ndjson';
    const url = await channelWithFive(name);
    const render = (msgs) => msgs.map((m) => `${JSON.stringify(envelope(name, m))}\n`).join('');
    const c = curl(`${url}?transport=ndjson&last_event_id=2`, { maxTimeS: 30 });
    try {
      const parse = (buf) => ndjsonLines(buf).map((l) => JSON.parse(l));
      const replay = await c.waitBytes(Buffer.byteLength(render(REPLAY)));
      assert.deepStrictEqual(parse(replay), REPLAY.map((m) => envelope(name, m)));
      await publishSix(name, 1);
      const live = await c.waitBytes(Buffer.byteLength(render(LIVE)));
      assert.deepStrictEqual(parse(live), LIVE.map((m) => envelope(name, m)));
    } finally {
      await c.kill();
    }
  });

  it('WebSocket (?last_event_id=2)', async () => {
    const url = await channelWithFive('resume-ws');
    const ws = await wsClient(`${url.replace('http:', 'ws:')}?last_event_id=2`);
    try {
      await ws.waitCount(3);
      assert.deepStrictEqual(ws.payloads(), REPLAY.map((m) => m.data));
      await publishSix('resume-ws', 1);
      await ws.waitCount(4);
      assert.deepStrictEqual(ws.messages, LIVE.map((m) => ({ data: m.data, binary: false })));
    } finally {
      await ws.close();
    }
  });

  it('long-poll: replay, then a waiting poll gets 6, then an empty poll', async () => {
    const name = 'resume-longpoll';
    await channelWithFive(name);
    const poll = (q) => request(server.url, { path: `/channels/${name}?transport=longpoll${q}`, timeoutMs: 15000 });
    const expectBody = (res, msgs, cursor) => {
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.headers['content-length'], String(res.body.length));
      assert.equal(res.headers['last-event-id'], cursor);
      assert.deepStrictEqual(JSON.parse(res.text), msgs.map((m) => envelope(name, m)));
    };

    expectBody(await poll('&last_event_id=2'), REPLAY, '5');

    // the waiting poll must be registered before 6 is published, so that the
    // publish answer counts it: wait for one more open connection
    const idle = (await metrics(server.url)).streamgate_connections;
    const waiting = poll('&last_event_id=5');
    await waitForConnections(server.url, idle + 1);
    await publishSix(name, 1);
    expectBody(await waiting, ALL.slice(5), '6');

    expectBody(await poll('&last_event_id=6'), [], '6');
    expectBody(await poll(''), [], '6');
  });
});
