// write_delay_ms: a loop writes at most once per that long, so several
// messages go out in one write. After a quiet spell the first message goes
// out at once; five published together just after it reach a chunked
// subscriber as one HTTP chunk, where each loop turn would otherwise write
// what it had.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metrics, publishEach, request, startServer, waitFor, waitForConnections } from './lib/server.mjs';
import { connect } from './lib/raw.mjs';

// Splits a chunked body into its chunks' payloads; stops at an incomplete one.
function chunks(body) {
  const out = [];
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return out;
    const size = parseInt(rest.slice(0, eol), 16);
    if (rest.length < eol + 2 + size + 2) return out;
    out.push(rest.slice(eol + 2, eol + 2 + size));
    rest = rest.slice(eol + 2 + size + 2);
  }
}

describe('write_delay_ms', { timeout: 30000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--write-delay-ms', '400'] });
  });
  after(async () => {
    await server?.stop();
  });

  it('sends the first message at once and those published together after it in one chunk', async () => {
    const sock = await connect(server.port);
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.write('GET /channels/wd HTTP/1.1\r\nHost: t\r\n\r\n');
    await waitFor(() => text.includes('\r\n\r\n'), { what: 'the stream head' });
    const head = text.slice(0, text.indexOf('\r\n\r\n') + 4);
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    const body = () => chunks(text.slice(head.length));
    await request(server.url, { method: 'POST', path: '/channels/wd', body: 'm0' });
    await waitFor(() => body().length === 1, { what: 'the first message' });
    assert.deepStrictEqual(body(), ['m0\n']);
    const posts = [1, 2, 3, 4, 5].map((i) =>
      request(server.url, { method: 'POST', path: '/channels/wd', body: `m${i}` }));
    const answers = await Promise.all(posts);
    assert.deepStrictEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
    await waitFor(() => body().join('').split('\n').length > 6, { what: 'five more messages' });
    sock.destroy();
    const got = body();
    assert.equal(got.length, 2, `two chunks, got ${JSON.stringify(got)}`);
    assert.deepStrictEqual(got[1].split('\n').filter(Boolean).sort(), ['m1', 'm2', 'm3', 'm4', 'm5']);
  });
});

// Opens n chunked subscribers to channel on one loop, 250 connects at a time;
// each collects its text. Resolves once the server counts them all.
async function subscribers(server, channel, n) {
  const subs = [];
  for (let i = 0; i < n; i += 250) {
    const batch = await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => connect(server.port)));
    for (const sock of batch) {
      const sub = { sock, text: '' };
      sock.on('data', (d) => (sub.text += d.toString('latin1')));
      sock.write(`GET /channels/${channel} HTTP/1.1\r\nHost: t\r\n\r\n`);
      subs.push(sub);
    }
  }
  await waitForConnections(server.url, n, 20000);
  return subs;
}

// The chunks of a subscriber's body, after its head.
function bodyChunks(sub) {
  const at = sub.text.indexOf('\r\n\r\n');
  return at < 0 ? [] : chunks(sub.text.slice(at + 4));
}

// Publishes ten messages one after another to `channel` with n subscribers on
// one loop; every subscriber must get all ten, exactly once, in order.
// Resolves {first: one subscriber's chunks, holds, passes} from /metrics.
async function tenToMany(server, channel, n) {
  const subs = await subscribers(server, channel, n);
  const want = Array.from({ length: 10 }, (_, i) => `${channel}${i}`);
  await publishEach(server.url, channel, want.map((body) => ({ body })), n);
  const done = (s) => bodyChunks(s).join('').split('\n').length > want.length;
  await waitFor(() => subs.every(done), { timeoutMs: 20000, what: `${n} subscribers with ten messages` });
  for (const s of subs) assert.deepStrictEqual(bodyChunks(s).join('').split('\n').slice(0, -1), want);
  const m = await metrics(server.url);
  const first = bodyChunks(subs[0]);
  for (const s of subs) s.sock.destroy();
  return { first, holds: m.streamgate_write_holds_total, passes: m.streamgate_write_passes_total };
}

// Runs fn(server) on a fresh one-loop server started with args; stops it.
async function onOneLoop(args, fn) {
  const server = await startServer({ args: ['--workers', '1', ...args] });
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

describe('write_delay_auto_ms', { timeout: 90000 }, () => {
  it('holds the next write pass after one to 2,500 connections, never the first message after a quiet spell', async () => {
    const got = await onOneLoop([], (server) => tenToMany(server, 'big', 2500));
    assert.equal(got.first[0], 'big0\n', 'the first message goes out alone, at once');
    assert.ok(got.holds >= 1, `write_holds_total ${got.holds}`);
    assert.ok(got.first.length < 10, `ten messages in ${got.first.length} writes`);
  });

  it('never holds a pass to fewer than 2,000 connections', async () => {
    const got = await onOneLoop([], (server) => tenToMany(server, 'small', 300));
    assert.equal(got.holds, 0);
    assert.equal(got.first[0], 'small0\n');
  });

  it('never holds with write_delay_auto_ms 0', async () => {
    const got = await onOneLoop(['--write-delay-auto-ms', '0'], (server) => tenToMany(server, 'off', 2500));
    assert.equal(got.holds, 0);
    assert.equal(got.first[0], 'off0\n');
  });
});
