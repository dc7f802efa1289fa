// The backend both gateways proxy in the upstream-mode scenarios (U1–U3):
// it is the stream's source, so it stamps every message itself.
//   GET  /u/ID   plain: 200 application/x-ndjson, chunked; once started,
//                --rate messages a second, then the end of the body
//   GET  /g/ID   GRIP: 200 with Grip-Hold: stream, Grip-Channel: ch-ID and
//                an empty body; once started, the publisher sends --rate
//                messages a second to ch-ID through the gateway's publish API
//   POST /start?messages=M&rate=R   (sg-loadgen, after its ramp) starts
//                every stream and channel registered so far: M messages each
// A message is the line "seq=K t=T xxx…" (64 bytes, K per stream from 0, T
// CLOCK_MONOTONIC ns when it is written: process.hrtime.bigint() is that
// clock on Linux), a JSON string on plain streams.
// Messages are spread evenly: stream i is due at (k + i / N) / rate, and a
// 10 ms tick writes what is due (0 or 1 message a stream at 50/s).
// GRIP publishing (--publish PORT) goes, batched per tick:
//   --via grip (the default, both gateways): one POST /publish/ with an
//                 "items" array of http-stream formats a tick (Pushpin's
//                 control port; streamgate's grip_publish_listen)
//   --via http (streamgate): 16 kept-alive connections, each tick's
//                 POST /channels/ch-ID requests pipelined on them, one
//                 write a connection
//   --via ws (streamgate): the same on 16 WebSocket connections to
//                 /channels/bench-pub with {"type":"publish"} commands
//                 (streamgate reads 128 bytes of a WebSocket at a time)
// Usage: node upstream-backend.js PORT [--gateway streamgate|pushpin]
//        [--publish PORT] [--via grip|http|ws]   (listens on 127.0.0.1 only)
// Prints a summary line on SIGTERM and when every stream is done.
'use strict';
const http = require('http');
const net = require('net');
const crypto = require('crypto');

const TICK_MS = 10;
const PUB_CONNS = 16;
const PAYLOAD = 64;

function usage() {
  console.error('usage: node upstream-backend.js PORT [--gateway streamgate|pushpin] [--publish PORT] [--via grip|http|ws]');
  process.exit(2);
}
const args = process.argv.slice(2);
const port = Number(args[0]);
let gateway = 'streamgate';
let publishPort = 0;
let via = 'grip';
for (let i = 1; i < args.length; i += 2) {
  if (args[i] === '--gateway') gateway = args[i + 1];
  else if (args[i] === '--publish') publishPort = Number(args[i + 1]);
  else if (args[i] === '--via') via = args[i + 1];
  else usage();
}
if (!(port > 0 && port < 65536) || !['streamgate', 'pushpin'].includes(gateway) ||
    !['grip', 'ws', 'http'].includes(via) || (gateway === 'pushpin' && via !== 'grip')) usage();

const plain = new Map(); // id -> response
const grip = new Set(); // ids held by the gateway
// backlogMax: the most requests (--via grip) or bytes (http, ws)
// the publisher had queued at a tick: the gateway not taking them in
const stats = {
  plainStreams: 0, gripChannels: 0, written: 0, published: 0, publishErrors: 0, lateTicks: 0, backlogMax: 0,
};
let inflight = 0; // POST /publish/ requests not answered yet
let run = null; // { t0, messages, rate, plainIds, gripIds, sentPlain, sentGrip }

function payload(k) {
  const head = `seq=${String(k).padStart(8, '0')} t=${process.hrtime.bigint().toString().padStart(19, '0')} `;
  return head + 'x'.repeat(PAYLOAD - head.length);
}

// ---- streamgate: raw publishing connections, HTTP/1.1 pipelined or WebSocket
// (a zero mask key is a valid mask) ----
const pubConns = [];
function pubOpen() {
  const sock = net.connect(publishPort, '127.0.0.1');
  const c = { sock, ready: via === 'http', buf: '', tail: '' };
  sock.setNoDelay(true);
  sock.on('connect', () => {
    if (via === 'http') return;
    sock.write('GET /channels/bench-pub HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
      'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
      `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n\r\n`);
  });
  sock.setEncoding('latin1');
  sock.on('data', (d) => {
    if (via === 'http') { // answers: count the statuses that are not 200
      const text = c.tail + d;
      let at = 0;
      while ((at = text.indexOf('HTTP/1.1 ', at)) >= 0 && at + 12 <= text.length) {
        if (text.slice(at + 9, at + 12) !== '200') stats.publishErrors++;
        at += 12;
      }
      c.tail = text.slice(Math.max(at, text.length - 11));
      return;
    }
    if (!c.ready) {
      c.buf += d;
      const end = c.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!c.buf.startsWith('HTTP/1.1 101')) {
        console.error('publisher: no WebSocket upgrade: ' + c.buf.split('\r\n')[0]);
        process.exit(1);
      }
      c.ready = true;
      d = c.buf.slice(end + 4);
    }
    // replies: count errors only (a reply per publish, no need to frame them)
    let at = 0;
    while ((at = d.indexOf('"type":"error"', at)) >= 0) { stats.publishErrors++; at++; }
  });
  sock.on('error', (e) => { console.error('publisher: ' + e.message); });
  pubConns.push(c);
}
function wsFrame(text) {
  const body = Buffer.from(text);
  const n = body.length;
  const head = n < 126 ? Buffer.from([0x81, 0x80 | n, 0, 0, 0, 0])
    : Buffer.from([0x81, 0x80 | 126, n >> 8, n & 255, 0, 0, 0, 0]);
  return [head, body];
}
function httpPost(ch, text) { // pipelined on a kept-alive connection
  return [Buffer.from(`POST /channels/${ch} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`)];
}
function publishStreamgate(batch) { // [[channel, text]...]
  const parts = pubConns.map(() => []);
  batch.forEach(([ch, text], i) => {
    parts[i % PUB_CONNS].push(...(via === 'http' ? httpPost(ch, text)
      : wsFrame(JSON.stringify({ type: 'publish', channel: ch, data: text }))));
  });
  let backlog = 0;
  parts.forEach((p, i) => {
    backlog += pubConns[i].sock.writableLength;
    if (p.length) pubConns[i].sock.write(Buffer.concat(p));
  });
  stats.backlogMax = Math.max(stats.backlogMax, backlog);
  stats.published += batch.length;
}

// ---- GRIP's publish API (Pushpin, streamgate's grip_publish_listen): one POST /publish/ a tick ----
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
function publishGrip(batch) {
  const body = JSON.stringify({
    items: batch.map(([ch, text]) => ({ channel: ch, formats: { 'http-stream': { content: text + '\n' } } })),
  });
  const req = http.request({
    host: '127.0.0.1', port: publishPort, path: '/publish/', method: 'POST', agent,
    headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
  }, (res) => {
    inflight--;
    if (res.statusCode !== 200) stats.publishErrors += batch.length;
    res.resume();
  });
  stats.backlogMax = Math.max(stats.backlogMax, inflight++);
  req.on('error', () => { inflight--; stats.publishErrors += batch.length; });
  req.end(body);
  stats.published += batch.length;
}

// ---- the schedule ----
function due(r, i, n, now) { // messages stream i of n should have had by now
  const k = Math.floor((now - r.t0) * r.rate / 1000 + 1 - i / n);
  return Math.max(0, Math.min(r.messages, k));
}
function tick() {
  const r = run;
  const now = performance.now();
  if (now - r.last > 2 * TICK_MS) stats.lateTicks++;
  r.last = now;
  let left = 0;
  r.plainIds.forEach((id, i) => {
    const res = plain.get(id);
    if (!res) return;
    const want = due(r, i, r.plainIds.length, now);
    for (; r.sentPlain[i] < want; r.sentPlain[i]++) {
      res.write('"' + payload(r.sentPlain[i]) + '"\n');
      stats.written++;
    }
    if (r.sentPlain[i] >= r.messages) {
      res.end();
      plain.delete(id);
    } else left++;
  });
  const batch = [];
  r.gripIds.forEach((id, i) => {
    const want = due(r, i, r.gripIds.length, now);
    for (; r.sentGrip[i] < want; r.sentGrip[i]++) batch.push(['ch-' + id, payload(r.sentGrip[i])]);
    if (r.sentGrip[i] < r.messages) left++;
  });
  if (batch.length) (via === 'grip' ? publishGrip : publishStreamgate)(batch);
  if (!left) {
    clearInterval(r.timer);
    summary('done');
  }
}

function start(url, res) {
  const q = new URL(url, 'http://x').searchParams;
  const messages = Number(q.get('messages'));
  const rate = Number(q.get('rate'));
  if (run || !(messages >= 0 && rate > 0) || (grip.size && !publishPort)) {
    res.writeHead(400, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: run ? 'already_started' : 'bad_start' }));
    return;
  }
  const plainIds = [...plain.keys()];
  const gripIds = [...grip];
  run = {
    t0: performance.now(), last: performance.now(), messages, rate, plainIds, gripIds,
    sentPlain: new Array(plainIds.length).fill(0), sentGrip: new Array(gripIds.length).fill(0),
  };
  stats.plainStreams = plainIds.length;
  stats.gripChannels = gripIds.length;
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ plain: plainIds.length, grip: gripIds.length }));
  run.timer = setInterval(tick, TICK_MS);
}

function summary(why) {
  const cpu = process.cpuUsage();
  console.log(`upstream backend ${why}: ${JSON.stringify(stats)}, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`);
}

const server = http.createServer((req, res) => {
  const m = /^\/([ug])\/(\d+)$/.exec(req.url);
  if (req.method === 'POST' && req.url.startsWith('/start')) {
    req.resume();
    start(req.url, res);
  } else if (req.method === 'GET' && m && m[1] === 'u') {
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    res.flushHeaders();
    plain.set(m[2], res);
    res.on('close', () => plain.delete(m[2]));
  } else if (req.method === 'GET' && m) {
    grip.add(m[2]);
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Grip-Hold': 'stream', 'Grip-Channel': 'ch-' + m[2] });
    res.end();
  } else {
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"error":"not_found"}');
  }
});
server.keepAliveTimeout = 60000;
server.maxConnections = 100000;
server.listen(port, '127.0.0.1', () => {
  if (via !== 'grip' && publishPort) for (let i = 0; i < PUB_CONNS; i++) pubOpen();
  console.log(`upstream backend on 127.0.0.1:${port} (${gateway})`);
});
process.on('SIGTERM', () => { summary('stopped'); process.exit(0); });
