// Starts and stops the real streamgate binary on 127.0.0.1 for the browser
// tests, and talks plain HTTP to it. Every wait is bounded and says what it
// was waiting for when it gives up.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = process.env.STREAMGATE_BIN || path.join(ROOT, 'build/streamgate');
export const WWW = process.env.STREAMGATE_WWW || path.join(ROOT, 'www');

const READY = /^streamgate listening on http:\/\/127\.0\.0\.1:(\d+)$/m;

// The bounded waits are the integration suite's own.
export { exited, sleep, waitFor, withTimeout } from '../../integration/lib/server.mjs';
import { exited, withTimeout } from '../../integration/lib/server.mjs';

// Starts streamgate on listen (default: any free loopback port) and waits
// for its ready line. Returns {port, url, proc, stderr(), stop()}.
export async function startGateway({ listen = '127.0.0.1:0', args = [], timeoutMs = 10000 } = {}) {
  const argv = ['--listen', listen, '--www', WWW, ...args];
  const proc = spawn(BIN, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const ready = new Promise((resolve, reject) => {
    proc.once('error', (err) => reject(new Error(`cannot run ${BIN}: ${err.message} (set STREAMGATE_BIN)`)));
    proc.once('exit', (code, signal) =>
      reject(new Error(`streamgate exited before it was ready (code ${code}, signal ${signal}); stderr:\n${stderr}`)));
    proc.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      const m = READY.exec(stdout);
      if (m) resolve(Number(m[1]));
    });
  });
  let port;
  try {
    port = await withTimeout(ready, timeoutMs, `the ready line of ${BIN} ${argv.join(' ')}`);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    stderr: () => stderr,
    // SIGTERM, wait for the exit, and assert it was a clean exit 0
    async stop({ timeoutMs: stopMs = 10000 } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      let result;
      try {
        result = await withTimeout(exited(proc), stopMs, 'streamgate to exit after SIGTERM');
      } catch (err) {
        proc.kill('SIGKILL');
        await exited(proc);
        throw err;
      }
      assert.deepEqual(result, { code: 0, signal: null }, `streamgate's exit after SIGTERM; stderr:\n${stderr}`);
    },
    kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

// One request on a fresh connection; resolves {status, headers, text}.
export function request(base, { method = 'GET', path: p = '/', headers = {}, body, timeoutMs = 10000 } = {}) {
  const { hostname, port } = new URL(base);
  return withTimeout(new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: p, method, headers, agent: false }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) {
      const buf = Buffer.from(body, 'utf8');
      req.setHeader('Content-Length', buf.length);
      req.write(buf);
    }
    req.end();
  }), timeoutMs, `${method} ${p}`);
}

// Publishes text on channel; asserts the 200 and returns {channel, id, subscribers}.
export async function publish(base, channel, text) {
  const res = await request(base, {
    method: 'POST',
    path: `/channels/${channel}`,
    headers: { 'Content-Type': 'text/plain; charset=utf-8' },
    body: text,
  });
  assert.equal(res.status, 200, `POST /channels/${channel}: ${res.text}`);
  return JSON.parse(res.text);
}

// The channel's subscriber count (0 when the channel does not exist).
export async function subscribers(base, channel) {
  const res = await request(base, { path: `/channels/${channel}/info` });
  if (res.status === 404) return 0;
  assert.equal(res.status, 200, `GET /channels/${channel}/info: ${res.text}`);
  return JSON.parse(res.text).subscribers;
}
