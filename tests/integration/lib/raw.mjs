// Raw TCP clients for tests that need exact bytes on the wire: pipelined
// requests, split writes, malformed framing, slow drips. Every wait is
// bounded; a helper that cannot finish rejects and says what it waited for.
import net from 'node:net';

// Connects to 127.0.0.1:port. Resolves with the socket once connected.
export function connect(port, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`connect to ${port} timed out`)); }, timeoutMs);
    sock.once('connect', () => { clearTimeout(timer); resolve(sock); });
    sock.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

// Collects what the server sends on sock until it closes (or timeoutMs).
// Resolves {text, closed, reset}: closed is false when the deadline came first.
export function collect(sock, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const chunks = [];
    let reset = false;
    const done = (closed) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed, reset });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => { reset = e.code === 'ECONNRESET'; });
    sock.on('close', () => done(true));
  });
}

// Sends bytes (a string is latin1) on a new connection, in pieces of
// `split` bytes when given (each its own write, `gapMs` apart), then
// collects everything the server sends until it closes or timeoutMs.
export async function rawExchange(port, bytes, { split = 0, gapMs = 0, timeoutMs = 5000, end = false } = {}) {
  const sock = await connect(port);
  const answer = collect(sock, { timeoutMs });
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  if (!split) {
    sock.write(buf);
  } else {
    sock.setNoDelay(true);
    for (let i = 0; i < buf.length && !sock.destroyed; i += split) {
      sock.write(buf.subarray(i, i + split));
      if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    }
  }
  if (end) sock.end();
  return (await answer).text;
}

// Splits a byte stream of HTTP/1.1 answers into [{status, headers, body}],
// using Content-Length or chunked framing. Throws on anything else.
export function parseResponses(text) {
  const out = [];
  let rest = text;
  while (rest.length) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) throw new Error(`incomplete head: ${JSON.stringify(rest.slice(0, 200))}`);
    const lines = rest.slice(0, headEnd).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]);
    if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    rest = rest.slice(headEnd + 4);
    let body = '';
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const e = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, e), 16);
        rest = rest.slice(e + 2);
        if (size === 0) { rest = rest.slice(2); break; }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    }
    out.push({ status: Number(m[1]), headers, body });
  }
  return out;
}
