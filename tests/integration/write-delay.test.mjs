// write_delay_ms: a loop with headroom holds what it queued for up to that
// long, so several messages go out in one write. Five messages published
// together reach a chunked subscriber as one HTTP chunk when the delay is
// set, where each loop turn would otherwise write what it had.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, startServer, waitFor } from './lib/server.mjs';
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

  it('sends messages published together in one chunk', async () => {
    const sock = await connect(server.port);
    let text = '';
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.write('GET /channels/wd HTTP/1.1\r\nHost: t\r\n\r\n');
    await waitFor(() => text.includes('\r\n\r\n'), { what: 'the stream head' });
    const head = text.slice(0, text.indexOf('\r\n\r\n') + 4);
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    const posts = [1, 2, 3, 4, 5].map((i) =>
      request(server.url, { method: 'POST', path: '/channels/wd', body: `m${i}` }));
    const answers = await Promise.all(posts);
    assert.deepStrictEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
    await waitFor(() => chunks(text.slice(head.length)).join('').split('\n').length > 5,
      { what: 'five messages' });
    sock.destroy();
    const got = chunks(text.slice(head.length));
    assert.equal(got.length, 1, `one chunk, got ${JSON.stringify(got)}`);
    assert.deepStrictEqual(got[0].split('\n').filter(Boolean).sort(), ['m1', 'm2', 'm3', 'm4', 'm5']);
  });
});
