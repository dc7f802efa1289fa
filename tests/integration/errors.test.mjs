// Every error a client can cause: exact status, exact error code, JSON body
// {"error","detail"} with Content-Type application/json.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, metrics, publish, request, startServer } from './lib/server.mjs';
import { wsClient } from './lib/clients.mjs';
import { rawExchange } from './lib/raw.mjs';

const MAX_BODY = 1024;

// A 200 publish answer, without its id (ids are checked in resume.test.mjs).
function accepted(res) {
  assert.equal(res.status, 200, `status; body: ${res.text}`);
  const { id, ...rest } = JSON.parse(res.text);
  assert.equal(typeof id, 'string');
  return rest;
}

describe('errors', { timeout: 60000 }, () => {
  let server;
  const get = (path, headers = {}) => request(server.url, { path, headers });
  const post = (path, body, headers = {}, opts = {}) =>
    request(server.url, { method: 'POST', path, body, headers, ...opts });
  const postJson = (name, text) => post(`/channels/${name}`, text, { 'Content-Type': 'application/json' });

  before(async () => {
    server = await startServer({ args: ['--max-body-bytes', String(MAX_BODY)] });
  });
  after(async () => {
    await server.stop();
  });

  it('413 body_too_large past max_body_bytes, 200 at the limit', async () => {
    const ok = await post('/channels/size', 'a'.repeat(MAX_BODY));
    assert.deepStrictEqual(accepted(ok), { channel: 'size', subscribers: 0 });
    expectError(await post('/channels/size', 'a'.repeat(MAX_BODY + 1)), 413, 'body_too_large');
    const json = JSON.stringify({ data: 'b'.repeat(MAX_BODY) });
    expectError(await postJson('size', json), 413, 'body_too_large');
  });

  it('a chunked request body is read and published as one message', async () => {
    const res = await post('/channels/chunky', 'hello', {}, { chunked: true });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).channel, 'chunky');
    const info = JSON.parse((await request(server.url, { path: '/channels/chunky/info' })).body);
    assert.equal(info.history.count, 1);
  });

  it('411 length_required for a POST with neither Content-Length nor chunked framing', async () => {
    const res = await rawExchange(server.port,
      'POST /channels/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(res, /^HTTP\/1\.1 411 Length Required\r\n/);
    assert.match(res, /"error":"length_required"/);
  });

  it('400 bad_json for malformed JSON, with line and column', async () => {
    const detail = expectError(await postJson('j', '{"data": "x"'), 400, 'bad_json');
    assert.ok(detail.includes('line 1 column'), `detail names line 1 column: ${detail}`);
    const detail2 = expectError(await postJson('j', '{"data": x}'), 400, 'bad_json');
    assert.ok(detail2.includes('line 1 column'), `detail names line 1 column: ${detail2}`);
  });

  it('400 bad_json for an envelope without data or with wrong types', async () => {
    const before = (await metrics(server.url)).streamgate_messages_published_total;
    for (const body of ['{"event":"e"}', '{}', '[1,2]', '"text"', '{"data":"x","event":5}',
      '{"data":"x","event":["a"]}', '{"data":"x","id":{"n":1}}']) {
      expectError(await postJson('j', body), 400, 'bad_json');
    }
    // nothing was published by the refused envelopes
    assert.equal((await metrics(server.url)).streamgate_messages_published_total, before);
  });

  it('400 bad_encoding for a body that is not UTF-8', async () => {
    const bad = [Buffer.from([0x66, 0xff, 0xfe, 0x67]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80])];
    for (const body of bad) {
      expectError(await post('/channels/enc', body, { 'Content-Type': 'text/plain' }), 400, 'bad_encoding');
    }
  });

  it('400 bad_channel for names outside [A-Za-z0-9_.:-]{1,128}', async () => {
    const ok = 'A'.repeat(64) + 'z9_.:-' + 'b'.repeat(58); // 128 chars
    assert.deepStrictEqual(accepted(await post(`/channels/${ok}`, 'x')), { channel: ok, subscribers: 0 });
    for (const name of ['a'.repeat(129), 'bad%20name', 'bad!name', 'caf%C3%A9', 'a%2Fb']) {
      expectError(await get(`/channels/${name}`), 400, 'bad_channel');
      expectError(await post(`/channels/${name}`, 'x'), 400, 'bad_channel');
    }
  });

  it('400 bad_transport for an unknown ?transport=', async () => {
    expectError(await get('/channels/t?transport=pigeon'), 400, 'bad_transport');
    expectError(await get('/channels/t?transport=websockets'), 400, 'bad_transport');
  });

  it('400 bad_last_event_id for malformed ids', async () => {
    for (const id of ['abc', '-1', '1'.repeat(25), '1.5', '0x10', '5', '1-', '-1-2', '99999999999999999999999-0']) {
      expectError(await get(`/channels/le?last_event_id=${id}`), 400, 'bad_last_event_id');
      expectError(await get(`/channels/le?transport=longpoll&last_event_id=${id}`), 400, 'bad_last_event_id');
    }
    expectError(await get('/channels/le', { Accept: 'text/event-stream', 'Last-Event-ID': 'abc' }),
      400, 'bad_last_event_id');
  });

  it('a publisher\'s own id: 409 stale_id when not after the last, 400 bad_id when malformed', async () => {
    const env = (data, id) => JSON.stringify({ data, id });
    const ms = Date.now() + 5000; // ahead of the gateway's clock, within a minute
    const ok = await postJson('ids', env('a', `${ms}-0`));
    assert.equal(ok.status, 200);
    assert.deepStrictEqual(JSON.parse(ok.text), { channel: 'ids', id: `${ms}-0`, subscribers: 0 });
    expectError(await postJson('ids', env('b', `${ms}-0`)), 409, 'stale_id');
    expectError(await postJson('ids', env('c', `${ms - 10000}-7`)), 409, 'stale_id');
    expectError(await postJson('other', env('c', `${ms}-0`)), 409, 'stale_id'); // ids are hub-wide
    const next = await postJson('ids', env('d', `${ms}-1`));
    assert.deepStrictEqual(JSON.parse(next.text), { channel: 'ids', id: `${ms}-1`, subscribers: 0 });
    // the gateway's own next id follows the publisher's
    assert.deepStrictEqual(await publish(server.url, 'ids', 'e'), { channel: 'ids', id: `${ms}-2`, subscribers: 0 });
    for (const bad of ['5', 'abc', '1-2-3', `${Date.now() + 120000}-0`]) {
      expectError(await postJson('ids', env('f', bad)), 400, 'bad_id');
    }
  });

  it('404 not_found for unknown paths', async () => {
    for (const path of ['/nope', '/no/such/file.html', '/channelsx/a', '/healthz/extra']) {
      expectError(await get(path), 404, 'not_found');
    }
  });

  it('405 method_not_allowed with the exact Allow header', async () => {
    const cases = [
      ['PUT', '/channels/x', 'GET, HEAD, POST, DELETE, OPTIONS'],
      ['PATCH', '/channels/x', 'GET, HEAD, POST, DELETE, OPTIONS'],
      ['POST', '/channels/x/info', 'GET, HEAD, OPTIONS'],
      ['POST', '/healthz', 'GET, HEAD, OPTIONS'],
      ['DELETE', '/healthz', 'GET, HEAD, OPTIONS'],
      ['POST', '/metrics', 'GET, HEAD, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await request(server.url, { method, path, body: method === 'DELETE' ? undefined : 'x' });
      expectError(res, 405, 'method_not_allowed');
      assert.equal(res.headers.allow, allow, `Allow for ${method} ${path}`);
    }
  });

  it('WebSocket text frame that is not UTF-8: close 1007', async () => {
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/wsbad`);
    ws.ws.send(Buffer.from([0x68, 0xff, 0x69]), { binary: false });
    const closed = await ws.waitClosed();
    assert.equal(closed.code, 1007);
  });

  it('the server still answers after all of the above', async () => {
    const res = await get('/healthz');
    assert.equal(res.status, 200);
    assert.deepStrictEqual(JSON.parse(res.text), { status: 'ok' });
  });
});
