// The embedding examples page: runs /examples/firehose, /examples/clock and
// /examples/delay/N over a fetch stream (the chunked body curl -N reads),
// EventSource or WebSocket, and shows each chunk with its arrival time.
import { el, clock, wireCopyButtons, origin, wsOrigin } from './common.js';

const EXAMPLES = {
  firehose: (f) => `/examples/firehose?count=${f.count.value}&interval_ms=${f.interval_ms.value}`,
  clock: (f) => `/examples/clock?count=${f.count.value}&interval_ms=${f.interval_ms.value}`,
  delay: (f) => `/examples/delay/${f.seconds.value}`,
};

const transport = () => document.querySelector('input[name="ex-transport"]:checked').value;

// Each runner calls on.line(text) per chunk and on.end(error|null) once;
// it returns a stop function.
function runFetch(path, on) {
  const abort = new AbortController();
  (async () => {
    const res = await fetch(path, { signal: abort.signal, cache: 'no-store' });
    if (!res.ok) {
      let detail = '';
      try {
        const body = await res.json();
        detail = `${body.error}: ${body.detail}`;
      } catch {
        detail = res.statusText;
      }
      throw new Error(res.status === 404 ? 'not found — is the gateway started with --examples 0?' : `HTTP ${res.status} ${detail}`);
    }
    on.open();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      const lines = buf.split('\n');
      buf = lines.pop();
      // an empty line is a heartbeat
      for (const line of lines) if (line !== '') on.line(line);
    }
    if (buf !== '') on.line(buf);
  })().then(() => on.end(null), (err) => on.end(abort.signal.aborted ? null : err));
  return () => abort.abort();
}

function runEventSource(path, on) {
  const es = new EventSource(path);
  let opened = false;
  es.onopen = () => {
    opened = true;
    on.open();
  };
  es.onmessage = (e) => on.line(e.data);
  // EventSource cannot tell "the server ended the stream" from "it failed";
  // an example ends by closing, so after an open, an error is the end
  es.onerror = () => {
    es.close();
    on.end(opened ? null : new Error('cannot connect (or the examples are off)'));
  };
  return () => es.close();
}

function runWebSocket(path, on) {
  const ws = new WebSocket(`${wsOrigin}${path}`);
  ws.onopen = () => on.open();
  ws.onmessage = (e) => on.line(String(e.data));
  ws.onclose = (e) => on.end(e.code === 1000 ? null : new Error(`closed ${e.code}${e.reason ? `: ${e.reason}` : ''}`));
  return () => {
    ws.onclose = null;
    ws.close(1000, 'stop');
  };
}

const RUNNERS = { fetch: runFetch, sse: runEventSource, ws: runWebSocket };
const NAMES = { fetch: 'fetch stream', sse: 'EventSource', ws: 'WebSocket' };

function setupCard(card) {
  const name = card.dataset.example;
  const form = card.querySelector('.ex-form');
  const stopButton = card.querySelector('.ex-stop');
  const runButton = form.querySelector('button[type="submit"]');
  const pill = card.querySelector('.pill');
  const out = card.querySelector('.ex-out');
  const summary = card.querySelector('.ex-summary');
  const cmd = card.querySelector('code.cmd');
  let stop = null;
  let run = 0;

  const setState = (state) => {
    pill.dataset.state = state;
    pill.textContent = state;
  };
  const renderCmd = () => {
    cmd.textContent = `curl -N '${origin}${EXAMPLES[name](form.elements)}'`;
  };

  form.addEventListener('input', renderCmd);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    stop?.();
    const mine = ++run;
    const how = transport();
    const path = EXAMPLES[name](form.elements);
    const started = performance.now();
    let lines = 0;
    out.replaceChildren();
    summary.textContent = '';
    setState('connecting');
    runButton.textContent = 'Run again';
    stopButton.disabled = false;
    const live = () => mine === run;
    stop = RUNNERS[how](path, {
      open() {
        if (live()) setState('open');
      },
      line(text) {
        if (!live()) return;
        lines += 1;
        const now = new Date();
        out.append(el('li', {}, el('time', { datetime: now.toISOString() }, clock(now)), el('span', { class: 'ex-line' }, text)));
        out.scrollTop = out.scrollHeight;
      },
      end(err) {
        if (!live()) return;
        stop = null;
        stopButton.disabled = true;
        const secs = ((performance.now() - started) / 1000).toFixed(2);
        if (err) {
          setState('error');
          summary.textContent = `${err.message}`;
        } else {
          setState('ended');
          summary.textContent = `${lines} chunk${lines === 1 ? '' : 's'} in ${secs} s over ${NAMES[how]}; the server closed the stream`;
        }
      },
    });
  });
  stopButton.addEventListener('click', () => {
    run += 1; // ignore whatever the old run still reports
    stop?.();
    stop = null;
    stopButton.disabled = true;
    setState('stopped');
    summary.textContent = 'stopped by you';
  });
  renderCmd();
}

for (const card of document.querySelectorAll('.example')) setupCard(card);
wireCopyButtons();
