// Real subscribers: curl children, npm ws, npm eventsource, a long-poll
// loop and raw sockets that stop reading. Each records what it received so a
// test can compare whole sequences; each wait is bounded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import WebSocket from 'ws';
import { EventSource } from 'eventsource';
import { request, waitFor, withTimeout } from './server.mjs';

// Starts `curl -sS -N -v ... url`. The verbose trace on stderr shows the
// response headers ("< " lines) as soon as they arrive, which tells a test
// the response has begun (a header dump file is only flushed at exit).
// maxTimeS bounds curl's own life. Returns an object with stdout() (Buffer),
// headers() (parsed once complete, or null), done (Promise of
// {code, signal, stdout, stderr}) and kill().
export function curl(url, { args = [], maxTimeS = 60 } = {}) {
  const argv = ['-sS', '-N', '-v', '--max-time', String(maxTimeS), ...args, url];
  const proc = spawn('curl', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  let outLen = 0;
  let err = '';
  proc.stdout.on('data', (d) => { out.push(d); outLen += d.length; });
  proc.stderr.setEncoding('latin1').on('data', (d) => (err += d));
  const stdout = () => Buffer.concat(out, outLen);
  // 'close' comes after 'exit' and after stdout and stderr have ended
  const done = new Promise((resolve) => {
    proc.once('close', (code, signal) => resolve({ code, signal, stdout: stdout(), stderr: err }));
  });
  return {
    proc,
    stdout,
    stdoutLength: () => outLen,
    stderr: () => err,
    done,
    // Status and lower-cased headers once the header block is complete.
    headers() {
      const lines = [];
      for (const line of err.split('\n')) {
        if (!line.startsWith('< ')) continue;
        if (line === '< \r') return parseHead(lines.join('\r\n'));
        lines.push(line.slice(2).replace(/\r$/, ''));
      }
      return null;
    },
    async waitHeaders(timeoutMs = 10000) {
      return waitFor(() => this.headers(), { timeoutMs, what: `response headers for curl ${url}` });
    },
    async waitBytes(n, timeoutMs = 30000) {
      await waitFor(() => outLen >= n, { timeoutMs, what: `${n} bytes from curl ${url} (have ${outLen})` });
      return stdout();
    },
    // SIGTERM by default; SIGKILL cuts the connection without a goodbye.
    kill(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return done;
    },
  };
}

// Runs curl on url to its end (for a response the server closes); asserts
// exit 0 and returns the body as text.
export async function curlBody(url, args = [], maxTimeS = 30) {
  const r = await curl(url, { args, maxTimeS }).done;
  assert.equal(r.code, 0, `curl ${url}: ${r.stderr}`);
  return r.stdout.toString('utf8');
}

// "HTTP/1.1 200 OK\r\nA: b..." → {status, headers} (names lower-cased).
export function parseHead(head) {
  const lines = head.split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers };
}

// A ws client recording every message. Resolves once open.
// messages: [{data: string, binary: bool}]; closed: Promise of {code, reason}.
export async function wsClient(url, { timeoutMs = 10000, headers } = {}) {
  const ws = new WebSocket(url, { headers });
  const messages = [];
  ws.on('message', (data, binary) => messages.push({ data: binary ? data : data.toString('utf8'), binary }));
  const closed = new Promise((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }));
  });
  ws.on('error', () => {}); // the close event carries what the test checks
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_, res) => reject(new Error(`ws upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  }), timeoutMs, `ws open ${url}`);
  return {
    ws,
    messages,
    closed,
    payloads: () => messages.map((m) => m.data),
    async waitCount(n, ms = 30000) {
      await waitFor(() => messages.length >= n, { timeoutMs: ms, what: `${n} ws messages (have ${messages.length})` });
      return messages;
    },
    // The close the server sends (or the connection's end), bounded.
    waitClosed: (ms = 30000) => withTimeout(closed, ms, 'ws close from the server'),
    async close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
      return withTimeout(closed, 10000, 'ws close');
    },
  };
}

// An npm EventSource recording {type, data, lastEventId} for the default
// 'message' event and each name in eventNames. Resolves once open.
export async function eventSource(url, { eventNames = [], timeoutMs = 10000, headers } = {}) {
  const fetchWithHeaders = headers
    ? (u, init) => fetch(u, { ...init, headers: { ...init.headers, ...headers } })
    : undefined;
  const es = new EventSource(url, fetchWithHeaders ? { fetch: fetchWithHeaders } : undefined);
  const events = [];
  const errors = [];
  const record = (e) => events.push({ type: e.type, data: e.data, lastEventId: e.lastEventId });
  for (const name of ['message', ...eventNames]) es.addEventListener(name, record);
  es.addEventListener('error', (e) => errors.push(e.message ?? 'error'));
  await withTimeout(new Promise((resolve) => es.addEventListener('open', resolve, { once: true })),
    timeoutMs, `EventSource open ${url}`);
  return {
    es,
    events,
    errors,
    async waitCount(n, ms = 30000) {
      await waitFor(() => events.length >= n, { timeoutMs: ms, what: `${n} SSE events (have ${events.length})` });
      return events;
    },
    close: () => es.close(),
  };
}

// Long-poll loop: GET ?transport=longpoll&last_event_id=CURSOR until `want`
// messages arrived or maxPolls is reached. Each response is checked (200,
// JSON, Last-Event-ID = last id in the body or the cursor for []); every
// X-Streamgate-Gap header seen is kept in gaps. Returns {messages, gaps,
// started, done, cut}: started resolves once the first poll is sent, done
// with {messages, polls, gaps}; cut() destroys the socket of the poll in
// flight (its answer, if any, is lost, as for a client that vanished) and
// ends the loop, resolving done.
export function longPoll(base, channel, { from = '0', want, maxPolls = 2000, timeoutMs = 60000 } = {}) {
  const messages = [];
  const gaps = [];
  const abort = new AbortController();
  let started;
  const startedP = new Promise((resolve) => (started = resolve));
  const run = async () => {
    let cursor = from;
    let polls = 0;
    const deadline = Date.now() + timeoutMs;
    while (messages.length < want && !abort.signal.aborted) {
      assert.ok(polls < maxPolls, `long-poll: ${maxPolls} polls without ${want} messages`);
      assert.ok(Date.now() < deadline, `long-poll: ${timeoutMs} ms without ${want} messages`);
      polls++;
      const p = request(base, {
        path: `/channels/${channel}?transport=longpoll&last_event_id=${cursor}`,
        timeoutMs: 30000,
        signal: abort.signal,
      });
      started();
      let res;
      try {
        res = await p;
      } catch (err) {
        if (abort.signal.aborted) break;
        throw err;
      }
      assert.equal(res.status, 200, `long-poll answer: ${res.text}`);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.headers['content-length'], String(res.body.length));
      const batch = JSON.parse(res.text);
      assert.ok(Array.isArray(batch), 'long-poll body is an array');
      const expectCursor = batch.length ? batch[batch.length - 1].id : cursor;
      assert.equal(res.headers['last-event-id'], expectCursor, 'long-poll Last-Event-ID');
      if (res.headers['x-streamgate-gap'] !== undefined) gaps.push(res.headers['x-streamgate-gap']);
      messages.push(...batch);
      cursor = res.headers['last-event-id'];
    }
    return { messages, polls, gaps };
  };
  const done = run();
  done.catch(() => {}); // reported when the test awaits done
  return {
    messages,
    gaps,
    started: startedP,
    done,
    cut() {
      abort.abort();
      return done;
    },
  };
}

// A raw TCP client that sends one request and then stops reading.
// Resolves with {socket, closed} once the request is written; closed
// resolves when the server closes the connection.
export async function stalledGet(port, path, extraHeaders = '') {
  const socket = net.connect({ host: '127.0.0.1', port });
  await withTimeout(new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  }), 10000, `connect 127.0.0.1:${port}`);
  socket.on('error', () => {});
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extraHeaders}\r\n`);
  socket.pause();
  return { socket, closed };
}

// Splits a chunked HTTP body already de-chunked by curl into lines.
export function ndjsonLines(buf) {
  const text = buf.toString('utf8');
  assert.ok(text.endsWith('\n'), 'ndjson ends with a newline');
  return text.slice(0, -1).split('\n');
}

// The curl streams of streamsOn() and their Content-Type.
const CURL_STREAMS = ['chunked', 'chunkedJson', 'sse', 'ndjson'];
const CONTENT_TYPES = {
  chunked: 'text/plain; charset=utf-8', chunkedJson: 'text/plain; charset=utf-8',
  sse: 'text/event-stream', ndjson: 'application/x-ndjson',
};

// One subscriber per streaming transport on path (e.g. "/channels/a,b"),
// with query (e.g. "last_event_id=ID", may be empty) on each: chunked,
// chunked with format=json, SSE, ndjson, WebSocket and WebSocket with
// format=json. Resolves once every one is subscribed (response headers in,
// or the socket open).
export async function streamsOn(server, path, query = '') {
  const url = (extra) => `${server.url}${path}${[query, extra].filter(Boolean).map((q, k) => (k ? '&' : '?') + q).join('')}`;
  const s = {
    chunked: curl(url(''), { maxTimeS: 60 }),
    chunkedJson: curl(url('format=json'), { maxTimeS: 60 }),
    sse: curl(url(''), { args: ['-H', 'Accept: text/event-stream'], maxTimeS: 60 }),
    ndjson: curl(url('transport=ndjson'), { maxTimeS: 60 }),
  };
  try {
    s.ws = await wsClient(url('').replace('http:', 'ws:'));
    s.wsJson = await wsClient(url('format=json').replace('http:', 'ws:'));
    for (const k of CURL_STREAMS) await s[k].waitHeaders();
  } catch (err) {
    await closeStreams(s);
    throw err;
  }
  return s;
}

// Ends every stream streamsOn() opened (curl killed, sockets closed).
export async function closeStreams(s) {
  for (const k of CURL_STREAMS) await s[k]?.kill();
  for (const k of ['ws', 'wsJson']) if (s[k]) await s[k].close();
}

// Waits until each stream of streamsOn() has what want says and asserts it
// exactly: want.{chunked,chunkedJson,sse,ndjson} are the whole response
// bodies (text), want.{ws,wsJson} the whole lists of text messages, and
// want.header the X-Streamgate-Gap header of every HTTP stream (undefined:
// none). Closes every stream.
export async function expectStreams(s, want) {
  try {
    for (const k of CURL_STREAMS) {
      const { status, headers } = s[k].headers();
      assert.deepStrictEqual(
        [status, headers['content-type'], headers['x-streamgate-gap']],
        [200, CONTENT_TYPES[k], want.header], `${k} status and headers`);
      const body = await s[k].waitBytes(Buffer.byteLength(want[k]));
      assert.equal(body.toString('utf8'), want[k], `${k} body`);
    }
    for (const k of ['ws', 'wsJson']) {
      await s[k].waitCount(want[k].length);
      assert.deepStrictEqual(s[k].messages, want[k].map((data) => ({ data, binary: false })), `${k} messages`);
    }
  } finally {
    await closeStreams(s);
  }
}

// ws' unexpected-response: the status and body the client library sees.
export function wsRefused(url, headers) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => reject(new Error('opened')));
    ws.on('error', () => {});
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
    });
  }), 5000, `ws refusal ${url}`);
}
