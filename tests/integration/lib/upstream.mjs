// Shared by the upstream-mode tests: the NDJSON "tokens" their backends
// stream (an LLM API's shape), and the five clients that read one proxied
// stream at once (curl plain, curl SSE, curl ndjson, EventSource,
// WebSocket) with the exact bytes each must get.
import assert from 'node:assert/strict';
import { curl, eventSource, wsClient } from './clients.mjs';
import { sleep } from './server.mjs';

export const token = (i) => JSON.stringify({ token: `t${i}` });
export const tokens = (n) => Array.from({ length: n }, (_, i) => token(i));
export const END = '{"type":"end"}';

// Writes the answer of a backend's /tok/N: N tokens, one line each, every
// `every` ms (0: all of them with the head). With state and key,
// state.generated[key] counts the tokens written and state.closed[key] is
// set when the client left before the end.
export async function writeTokens(res, n, every, state, key = '') {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  if (!every) return res.end(tokens(n).map((t) => `${t}\n`).join(''));
  let done = false;
  if (state) res.on('close', () => { if (!done) state.closed[key] = true; });
  for (let i = 0; i < n && !res.destroyed; i++) {
    res.write(`${token(i)}\n`);
    if (state) state.generated[key] = i + 1;
    await sleep(every);
  }
  done = true;
  res.end();
}

// What an SSE client of a plain upstream stream of `want` gets, end included.
export const sseText = (want) =>
  `: ok\n\n${want.map((t) => `data: ${t}\n\n`).join('')}event: end\ndata: ${END}\n\n`;

// Opens the five clients on url u (an http:// URL of the gateway).
export async function openTransports(u) {
  return {
    plain: curl(u),
    sse: curl(u, { args: ['-H', 'Accept: text/event-stream'] }),
    nd: curl(`${u}?transport=ndjson`),
    es: await eventSource(u, { eventNames: ['end'] }),
    ws: await wsClient(u.replace('http:', 'ws:')),
  };
}

// Waits for the clients of openTransports and checks that each got `want`
// then the end, byte for byte, and nothing else.
export async function expectTransports(t, want) {
  const [p, s, d] = await Promise.all([t.plain.done, t.sse.done, t.nd.done]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stdout.toString(), want.map((x) => `${x}\n`).join(''));
  assert.equal(s.stdout.toString(), sseText(want));
  assert.equal(d.stdout.toString(), [...want.map((x) => ({ channel: '', id: null, event: null, data: x })),
    { channel: '', id: null, event: 'end', data: END }].map((e) => `${JSON.stringify(e)}\n`).join(''));
  await t.ws.waitClosed();
  assert.deepEqual(t.ws.payloads(), [...want, END]);
  await t.es.waitCount(want.length + 1);
  t.es.close();
  assert.deepEqual(t.es.events.map((e) => [e.type, e.data]),
    [...want.map((x) => ['message', x]), ['end', END]]);
}
