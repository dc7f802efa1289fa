// The backend Pushpin proxies to in the benchmark: it answers every
// subscription with GRIP instructions and holds nothing itself.
//   GET  /sub/NAME  -> Grip-Hold: stream, Grip-Channel: NAME (SSE when asked)
//   POST /sub/NAME  (WebSocket-over-HTTP) -> OPEN and a subscribe to NAME
// Usage: node pushpin-backend.js PORT   (listens on 127.0.0.1 only)
'use strict';
const http = require('http');

const port = Number(process.argv[2]);
if (!(port > 0 && port < 65536)) {
  console.error('usage: node pushpin-backend.js PORT');
  process.exit(2);
}

function channelOf(url) {
  const m = /\/sub\/(\w+)/.exec(url);
  return m ? m[1] : 'none';
}

function webSocketEvents(req, res) {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    const headers = { 'Content-Type': 'application/websocket-events' };
    let out = '';
    if (body.startsWith('OPEN')) {
      const ctl = 'c:' + JSON.stringify({ type: 'subscribe', channel: channelOf(req.url) });
      headers['Sec-WebSocket-Extensions'] = 'grip';
      out = 'OPEN\r\nTEXT ' + Buffer.byteLength(ctl).toString(16) + '\r\n' + ctl + '\r\n';
    }
    res.writeHead(200, headers);
    res.end(out);
  });
}

const server = http.createServer((req, res) => {
  if (req.headers['content-type'] === 'application/websocket-events') {
    webSocketEvents(req, res);
    return;
  }
  const sse = (req.headers.accept || '').includes('text/event-stream');
  res.writeHead(200, {
    'Content-Type': sse ? 'text/event-stream' : 'text/plain',
    'Grip-Hold': 'stream',
    'Grip-Channel': channelOf(req.url),
  });
  res.end(sse ? ': ok\n\n' : '');
});
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => console.log(`pushpin backend on 127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));
