// tokens.js — the resumable token stream page (tokens.html). State lives in
// sessionStorage, so a reload (or a dropped connection) resumes the durable
// stream from the last id received: nothing is lost and nothing repeated.
// The page never reconnects to the upstream path itself (that would start a
// new upstream request): after the first connection it only resumes.
const KEY = 'streamgate.tokens';
const params = new URLSearchParams(location.search);
const upstreamPath = params.get('path') || '/v1/tokens';

const $ = (id) => document.getElementById(id);

function load() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY));
    if (s && s.path === upstreamPath) return s;
  } catch { /* a fresh start */ }
  return { path: upstreamPath, id: null, last: null, tokens: [], done: false };
}

let state = load();
let es = null;

function save() {
  sessionStorage.setItem(KEY, JSON.stringify(state));
}

// The text a message shows: an NDJSON upstream's {"token": ...}, or the data.
function text(data) {
  try {
    const v = JSON.parse(data);
    if (v && typeof v.token === 'string') return v.token;
  } catch { /* not JSON: shown as it is */ }
  return data;
}

function render(status) {
  $('stream-id').textContent = state.id || '–';
  $('status').textContent = status;
  $('count').textContent = String(state.tokens.length);
  $('out').textContent = state.tokens.map(text).join(' ');
}

function connect() {
  if (state.done) return render('done');
  const url = state.id
    ? `/streams/${state.id}?last_event_id=${encodeURIComponent(state.last || '0')}`
    : upstreamPath;
  es = new EventSource(url);
  render(state.id ? 'resuming' : 'connecting');
  es.addEventListener('open', () => render('streaming'));
  es.addEventListener('stream', (e) => {
    state.id = JSON.parse(e.data).id;
    state.last = e.lastEventId || state.last;
    save();
    render('streaming');
  });
  es.addEventListener('message', (e) => {
    state.tokens.push(e.data);
    state.last = e.lastEventId;
    save();
    render('streaming');
  });
  const finish = (status) => (e) => {
    state.done = true;
    state.last = e.lastEventId || state.last;
    save();
    es.close();
    render(status);
  };
  es.addEventListener('end', finish('done'));
  es.addEventListener('error', (e) => {
    if (e.data) return finish('failed')(e); // the stream's own error message
    es.close(); // never let EventSource retry the upstream path itself
    if (!state.done) setTimeout(connect, state.id ? 500 : 2000);
  });
}

$('restart').addEventListener('click', () => {
  es?.close();
  state = { path: upstreamPath, id: null, last: null, tokens: [], done: false };
  save();
  connect();
});

connect();
