// Origin and CORS: which pages may use the gateway. With allowed_origins
// empty only the gateway's own origin may (a browser sends Origin on
// POST, DELETE and WebSocket handshakes, same-origin or not); any other
// Origin is refused with 403 before anything happens, a "simple" text/plain
// POST included, and nothing is published. Listed origins get
// Access-Control-Allow-Origin (with -Credentials and Vary: Origin) on
// every answer and stream head, and their preflights are answered.
// Requests without Origin are not a browser's and are not affected.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { expectError, publish, request, runBinary, startServer, waitFor, withTimeout } from './lib/server.mjs';
import { eventSource, wsClient } from './lib/clients.mjs';
import { parseResponses, rawExchange } from './lib/raw.mjs';

const APP = 'https://app.example:8443';
const EVIL = 'http://evil.example';
const EXPOSE = 'last-event-id, x-streamgate-gap, retry-after, www-authenticate, stream-id';
// the headers an answer to APP carries when allowed_origins lists it
const FOR_APP = [
  'vary: origin',
  `access-control-allow-origin: ${APP}`,
  'access-control-allow-credentials: true',
  `access-control-expose-headers: ${EXPOSE}`,
];
const CORS_LINE = /^(vary|access-control-[a-z-]+):/;

// The lines of an answer's head (status line first), as sent.
function headLines(text) {
  return text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
}
const corsLines = (lines) => lines.filter((l) => CORS_LINE.test(l));

// Sends a raw request and resolves with the head's lines as soon as the
// head is complete (a stream's answer never ends by itself).
function headOnly(port, text, timeoutMs = 5000) {
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        sock.destroy();
        resolve(headLines(got));
      }
    });
    sock.on('error', reject);
    sock.on('connect', () => sock.write(text));
  }), timeoutMs, `head of ${text.split('\r\n')[0]}`);
}

const wsHandshake = (port, path, origin) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
  `${origin ? `Origin: ${origin}\r\n` : ''}\r\n`;

const textPost = (origin) => ({
  method: 'POST', headers: { 'Content-Type': 'text/plain', ...(origin ? { Origin: origin } : {}) },
});

describe('Origin with allowed_origins empty: the gateway\'s own origin only', { timeout: 60000 }, () => {
  let server;
  let self;
  before(async () => {
    server = await startServer();
    self = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.stop();
  });

  it('a text/plain POST from another origin is 403 and publishes nothing', async () => {
    const es = await eventSource(`${server.url}/channels/cors.simple`);
    try {
      const res = await request(server.url, { ...textPost(EVIL), path: '/channels/cors.simple', body: 'forged' });
      assert.equal(expectError(res, 403, 'origin_not_allowed'),
        'only pages of the gateway\'s own origin may use it (allowed_origins is empty)');
      assert.deepStrictEqual(corsLines(Object.entries(res.headers).map(([k, v]) => `${k}: ${v}`)), []);
      // the next message is the first the subscriber sees
      const mark = await publish(server.url, 'cors.simple', 'marker');
      assert.equal(mark.subscribers, 1);
      await es.waitCount(1);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepStrictEqual(es.events.map((e) => [e.data, e.lastEventId]), [['marker', mark.id]]);
    } finally {
      es.close();
    }
  });

  it('DELETE, GET and a preflight from another origin are 403; the channel stays', async () => {
    await publish(server.url, 'cors.keep', 'kept');
    expectError(await request(server.url, { method: 'DELETE', path: '/channels/cors.keep', headers: { Origin: EVIL } }),
      403, 'origin_not_allowed');
    expectError(await request(server.url, { path: '/channels/cors.keep?transport=longpoll&last_event_id=0', headers: { Origin: EVIL } }),
      403, 'origin_not_allowed');
    expectError(await request(server.url, {
      method: 'OPTIONS', path: '/channels/cors.keep',
      headers: { Origin: EVIL, 'Access-Control-Request-Method': 'POST' },
    }), 403, 'origin_not_allowed');
    const info = await request(server.url, { path: '/channels/cors.keep/info' });
    assert.equal(JSON.parse(info.text).history.count, 1);
  });

  it('a WebSocket handshake from another origin gets 403 from the gateway, not an upgrade', async () => {
    const [res] = parseResponses(await rawExchange(server.port, wsHandshake(server.port, '/channels/cors.ws', EVIL)));
    assert.equal(res.status, 403);
    assert.equal(res.headers.connection, 'close');
    assert.deepStrictEqual(JSON.parse(res.body), {
      error: 'origin_not_allowed',
      detail: 'only pages of the gateway\'s own origin may use it (allowed_origins is empty)',
    });
    // the ws client sees the refusal too
    await assert.rejects(wsClient(`ws://127.0.0.1:${server.port}/channels/cors.ws`, { headers: { Origin: 'http://127.0.0.1:1' } }),
      /ws upgrade refused: 403/);
  });

  it('the gateway\'s own origin (http or https and its Host) and requests without Origin pass, without CORS headers', async () => {
    const own = await request(server.url, { ...textPost(self), path: '/channels/cors.own', body: 'mine' });
    assert.equal(own.status, 200, own.text);
    const behindTls = await request(server.url, { ...textPost(`https://127.0.0.1:${server.port}`), path: '/channels/cors.own', body: 'tls' });
    assert.equal(behindTls.status, 200, behindTls.text);
    const plain = await request(server.url, { ...textPost(), path: '/channels/cors.own', body: 'curl' });
    assert.equal(plain.status, 200, plain.text);
    for (const res of [own, behindTls, plain])
      assert.deepStrictEqual(Object.keys(res.headers).filter((k) => CORS_LINE.test(`${k}:`)), []);
    const ws = await wsClient(`ws://127.0.0.1:${server.port}/channels/cors.own`, { headers: { Origin: self } });
    await ws.close();
    // another port of the same host is another origin
    expectError(await request(server.url, { ...textPost(`http://127.0.0.1:${server.port + 1}`), path: '/channels/cors.own', body: 'x' }),
      403, 'origin_not_allowed');
  });
});

describe('Origin with allowed_origins listing an origin', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--allowed-origins', `${APP}, http://other.example`] });
  });
  after(async () => {
    await server.stop();
  });

  it('a preflight gets 204 with exactly the Access-Control-* headers, whatever the path', async () => {
    const [res] = parseResponses(await rawExchange(server.port,
      `OPTIONS /channels/cors.pre HTTP/1.1\r\nHost: gw.example\r\nOrigin: ${APP}\r\n` +
      'Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, x-trace-id\r\n' +
      'Connection: close\r\n\r\n'));
    assert.equal(res.status, 204);
    assert.deepStrictEqual(corsLines(Object.entries(res.headers).map(([k, v]) => `${k}: ${v}`)), [
      ...FOR_APP,
      'access-control-allow-methods: GET, HEAD, POST, DELETE, OPTIONS',
      'access-control-allow-headers: authorization, content-type, last-event-id, content-type, x-trace-id',
      'access-control-max-age: 600',
    ]);
    // asked-for headers that are not plain names are not echoed
    const odd = await request(server.url, {
      method: 'OPTIONS', path: '/nowhere',
      headers: { Origin: APP, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-a\u0001' },
    }).catch(() => null);
    if (odd) assert.equal(odd.headers['access-control-allow-headers'], 'authorization, content-type, last-event-id');
    const plain = await request(server.url, {
      method: 'OPTIONS', path: '/nowhere',
      headers: { Origin: APP, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-' + 'a'.repeat(300) },
    });
    assert.equal(plain.status, 204);
    assert.equal(plain.headers['access-control-allow-headers'], 'authorization, content-type, last-event-id');
  });

  it('an OPTIONS without Origin is not a preflight: 204 with Allow, no CORS', async () => {
    const res = await request(server.url, { method: 'OPTIONS', path: '/channels/cors.pre' });
    assert.equal(res.status, 204);
    assert.equal(res.headers.allow, 'GET, HEAD, POST, DELETE, OPTIONS');
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assert.equal(res.headers.vary, 'origin'); // the answer depends on Origin
  });

  it('answers, errors and every stream head carry the headers for the listed origin', async () => {
    const ask = (line, extra = '') => `${line} HTTP/1.1\r\nHost: gw.example\r\nOrigin: ${APP}\r\n${extra}\r\n`;
    const pub = await request(server.url, { ...textPost(APP), path: '/channels/cors.heads', body: 'one' });
    assert.equal(pub.status, 200);
    const heads = {
      publish: headLines(await rawExchange(server.port,
        ask('POST /channels/cors.heads', 'Content-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n') + 'two')),
      healthz: await headOnly(server.port, ask('GET /healthz')),
      notFound: await headOnly(server.port, ask('GET /nope')),
      sse: await headOnly(server.port, ask('GET /channels/cors.heads', 'Accept: text/event-stream\r\n')),
      chunked: await headOnly(server.port, ask('GET /channels/cors.heads')),
      ndjson: await headOnly(server.port, ask('GET /channels/cors.heads?transport=ndjson')),
      longpoll: await headOnly(server.port, ask('GET /channels/cors.heads?transport=longpoll&last_event_id=0')),
    };
    for (const [name, lines] of Object.entries(heads))
      assert.deepStrictEqual(corsLines(lines), FOR_APP, name);
    assert.match(heads.longpoll.join('\n'), /\nlast-event-id: \d+-\d+(\n|$)/);
  });

  it('the other listed origin gets its own name back; an unlisted one is refused', async () => {
    const res = await request(server.url, { path: '/healthz', headers: { Origin: 'HTTP://OTHER.EXAMPLE' } });
    assert.equal(res.headers['access-control-allow-origin'], 'http://other.example');
    expectError(await request(server.url, { ...textPost(EVIL), path: '/channels/cors.heads', body: 'x' }),
      403, 'origin_not_allowed');
    expectError(await request(server.url, { ...textPost('null'), path: '/channels/cors.heads', body: 'x' }),
      403, 'origin_not_allowed');
    expectError(await request(server.url, { ...textPost(`${APP}/`), path: '/channels/cors.heads', body: 'x' }),
      403, 'origin_not_allowed');
    const [ws] = parseResponses(await rawExchange(server.port, wsHandshake(server.port, '/channels/cors.heads', EVIL)));
    assert.equal(ws.status, 403);
    assert.equal(JSON.parse(ws.body).detail, 'this page\'s Origin is not in allowed_origins');
    // the listed origin may open a WebSocket and publish over it
    const ok = await wsClient(`ws://127.0.0.1:${server.port}/channels/cors.heads`, { headers: { Origin: APP } });
    ok.ws.send(JSON.stringify({ type: 'publish', channel: 'cors.heads', data: 'via ws' }));
    await ok.waitCount(1);
    assert.equal(JSON.parse(ok.payloads().at(-1)).channel, 'cors.heads');
    await ok.close();
  });
});

describe('Origin with allowed_origins "*"', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer({ args: ['--allowed-origins', '*'] });
  });
  after(async () => {
    await server.stop();
  });

  it('any origin is answered "*", never with credentials, and may publish', async () => {
    const res = await request(server.url, { ...textPost(EVIL), path: '/channels/cors.any', body: 'x' });
    assert.equal(res.status, 200, res.text);
    assert.deepStrictEqual(corsLines(Object.entries(res.headers).map(([k, v]) => `${k}: ${v}`)), [
      'access-control-allow-origin: *', `access-control-expose-headers: ${EXPOSE}`,
    ]);
    const pre = await request(server.url, {
      method: 'OPTIONS', path: '/channels/cors.any', headers: { Origin: EVIL, 'Access-Control-Request-Method': 'DELETE' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.equal(pre.headers['access-control-allow-credentials'], undefined);
    assert.equal(pre.headers.vary, undefined);
    // and without Origin too, so that a cached answer serves any page
    const plain = await request(server.url, { path: '/healthz' });
    assert.equal(plain.headers['access-control-allow-origin'], '*');
  });
});

describe('allowed_origins is checked when the gateway starts', () => {
  for (const [value, shown] of [['https://app.example/', 'https://app.example/'], ['ftp://x', 'ftp://x'], ['app.example', 'app.example']]) {
    it(`"${value}" is refused`, async () => {
      const r = await runBinary(['--listen', '127.0.0.1:0', '--allowed-origins', value]);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `streamgate: --allowed_origins: "${shown}" is not an origin: write * or ` +
        'scheme://host[:port], like https://app.example:8443 (no path, no trailing /)\n');
    });
  }
});
