// Starts the real streamgate binary on a loopback port and talks HTTP to it.
// Every wait here is bounded: a helper that cannot finish rejects with a
// message that says what it was waiting for.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { idCompare } from './messages.mjs';

export const BIN = process.env.STREAMGATE_BIN || '/work/main/build/streamgate';
export const WWW = process.env.STREAMGATE_WWW || '/work/main/www';
// STREAMGATE_WORKERS=N runs every started server with --workers N (a test's
// own --workers comes later and wins), so the whole suite also covers a
// gateway whose connections land on several loops.
export const WORKERS = process.env.STREAMGATE_WORKERS || '';

const READY = /^streamgate listening on http:\/\/127\.0\.0\.1:(\d+)$/;
const READY_TLS = /^streamgate listening on https:\/\/127\.0\.0\.1:(\d+)$/;

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Resolves p, or rejects after ms with "timed out: what".
export function withTimeout(p, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

// Polls fn() until it returns a truthy value (returned) or the deadline passes.
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

// Resolves with {code, signal} when proc exits (at once if it already has).
export function exited(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null)
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
}

// Runs the binary to completion (for --help, --version, bad configs).
export async function runBinary(args, { env = {}, timeoutMs = 10000 } = {}) {
  const proc = spawn(BIN, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  // 'close' comes after 'exit' and after stdout and stderr have ended
  const closed = new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  try {
    const { code, signal } = await withTimeout(closed, timeoutMs, `${BIN} ${args.join(' ')}`);
    return { code, signal, stdout, stderr };
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}

// Starts streamgate. args: extra flags. listen: replaces the --listen flag
// (null: no --listen flag at all, e.g. to test STREAMGATE_LISTEN).
// tls: also wait for the HTTPS listener's line (args carry --tls-listen);
// with listen '' only that line comes. Returns {port, url, tlsPort, tlsUrl,
// proc, pid, stderr(), stop()}.
export async function startServer({ args = [], env = {}, www = WWW, listen = '127.0.0.1:0', timeoutMs = 10000, tls = false } = {}) {
  const argv = [...(listen === null ? [] : ['--listen', listen]), '--www', www,
    ...(WORKERS ? ['--workers', WORKERS] : []), ...args];
  const proc = spawn(BIN, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const ready = new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code, signal) =>
      reject(new Error(`streamgate exited before ready (code ${code}, signal ${signal}); stderr:\n${stderr}`)));
    proc.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      let plain = listen === '' ? 0 : null;
      let secure = tls ? null : 0;
      for (const line of stdout.split('\n').slice(0, -1)) {
        const m = READY.exec(line);
        if (m) plain = Number(m[1]);
        const t = READY_TLS.exec(line);
        if (t) secure = Number(t[1]);
      }
      if (plain !== null && secure !== null) resolve([plain, secure]);
    });
  });
  let port, tlsPort;
  try {
    [port, tlsPort] = await withTimeout(ready, timeoutMs, `ready line from ${BIN} ${argv.join(' ')}`);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  const server = {
    port,
    url: `http://127.0.0.1:${port}`,
    tlsPort,
    tlsUrl: `https://127.0.0.1:${tlsPort}`,
    proc,
    pid: proc.pid,
    stdout: () => stdout,
    stderr: () => stderr,
    // SIGTERM (or signal), wait for the exit, assert a clean exit 0.
    async stop({ signal = 'SIGTERM', timeoutMs: stopMs = 10000 } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      let result;
      try {
        result = await withTimeout(exited(proc), stopMs, `streamgate exit after ${signal}`);
      } catch (err) {
        proc.kill('SIGKILL');
        await exited(proc);
        throw err;
      }
      assert.deepEqual(result, { code: 0, signal: null }, `streamgate exit status; stderr:\n${stderr}`);
    },
  };
  return server;
}

// One HTTP request, on a fresh connection unless agent (an http.Agent,
// e.g. keep-alive) is given. body: string or Buffer; with chunked: true the
// body is sent with Transfer-Encoding: chunked and no Content-Length.
// signal (an AbortSignal) destroys the socket mid-request: the promise then
// rejects with an AbortError. Resolves {status, headers, body (Buffer), text}.
export function request(base, {
  method = 'GET', path: p = '/', headers = {}, body, chunked = false, timeoutMs = 10000, agent = false, signal,
} = {}) {
  // the path is sent as written (no dot-segment normalisation), so that a
  // test can send /../x
  const { hostname, port } = new URL(base);
  return withTimeout(new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: p, method, headers, agent, signal }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(parts);
        resolve({ status: res.statusCode, headers: res.headers, body: buf, text: buf.toString('utf8') });
      });
    });
    req.on('error', reject);
    if (body !== undefined) {
      if (chunked) {
        req.setHeader('Transfer-Encoding', 'chunked');
        req.write(body);
      } else {
        const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
        req.setHeader('Content-Length', buf.length);
        req.write(buf);
      }
    }
    req.end();
  }), timeoutMs, `${method} ${p}`);
}

// Asserts an error answer {"error": code, "detail": "..."} with its exact
// status and Content-Type; returns the detail.
export function expectError(res, status, code) {
  assert.equal(res.status, status, `status; body: ${res.text}`);
  assert.equal(res.headers['content-type'], 'application/json');
  const body = JSON.parse(res.text);
  assert.deepStrictEqual(Object.keys(body), ['error', 'detail']);
  assert.equal(body.error, code);
  assert.equal(typeof body.detail, 'string');
  assert.ok(body.detail.length > 0, 'detail is not empty');
  return body.detail;
}

// Publishes one message; body is a string (text) or an object (JSON envelope).
// Asserts the 200 answer's channel and returns its parsed JSON.
export async function publish(base, channel, body) {
  const json = typeof body !== 'string';
  const res = await request(base, {
    method: 'POST',
    path: `/channels/${channel}`,
    headers: { 'Content-Type': json ? 'application/json' : 'text/plain; charset=utf-8' },
    body: json ? JSON.stringify(body) : body,
  });
  assert.equal(res.status, 200, `publish to ${channel}: ${res.text}`);
  assert.equal(res.headers['content-type'], 'application/json');
  const answer = JSON.parse(res.text);
  assert.deepEqual(Object.keys(answer), ['channel', 'id', 'subscribers']);
  assert.equal(answer.channel, channel);
  return answer;
}

// Publishes each of msgs ({body}) in order; every answer must name the
// channel and reach `subscribers` (a number, or a predicate). Returns the ids.
export async function publishEach(base, channel, msgs, subscribers) {
  const ids = [];
  for (const m of msgs) {
    const answer = await publish(base, channel, m.body);
    if (typeof subscribers === 'function') assert.ok(subscribers(answer.subscribers), `subscribers: ${answer.subscribers}`);
    else if (subscribers !== undefined) assert.equal(answer.subscribers, subscribers);
    assert.equal(typeof answer.id, 'string');
    ids.push(answer.id);
  }
  return ids;
}

// Parses GET /metrics into {name: number} (unlabelled samples only).
export async function metrics(base) {
  const res = await request(base, { path: '/metrics' });
  assert.equal(res.status, 200);
  const out = {};
  for (const line of res.text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) ([0-9.eE+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

// Waits until streamgate_connections equals n exactly.
export async function waitForConnections(base, n, timeoutMs = 10000) {
  return waitFor(async () => (await metrics(base)).streamgate_connections === n, {
    timeoutMs, what: `streamgate_connections == ${n}`,
  });
}

// A fresh temporary directory, removed by the returned cleanup().
export function tempDir(prefix = 'streamgate-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

// VmRSS of pid in bytes, from /proc/PID/status.
export function rssBytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

// A loopback port that was free a moment ago.
export async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => srv.listen(0, '127.0.0.1', resolve).once('error', reject));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// A steady publisher: `lanes` keep-alive connections, each publishing its
// share of messages 1..count (lane k: k+1, k+1+lanes, ...) one after the
// other, so that `lanes` requests are in flight at any time. data(i) is the
// text of message i. published() says how many were answered so far;
// done resolves with [{i, id}] in the order of the ids the gateway gave,
// which is the order every subscriber must see.
export function steadyPublisher(base, channel, { count, lanes = 4, data }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: lanes });
  const answered = [];
  const lane = async (k) => {
    for (let i = k + 1; i <= count; i += lanes) {
      const res = await request(base, {
        method: 'POST', path: `/channels/${channel}`, agent, body: data(i),
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      });
      assert.equal(res.status, 200, `publish ${i}: ${res.text}`);
      const answer = JSON.parse(res.text);
      assert.equal(answer.channel, channel);
      answered.push({ i, id: answer.id });
    }
  };
  const done = Promise.all(Array.from({ length: lanes }, (_, k) => lane(k)))
    .then(() => answered.slice().sort((a, b) => idCompare(a.id, b.id)))
    .finally(() => agent.destroy());
  done.catch(() => {}); // reported when the test awaits done
  return { done, published: () => answered.length };
}

