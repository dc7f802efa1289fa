// The dashboard: reads GET /metrics/stream (one JSON snapshot a second,
// README "GET /metrics/stream") with EventSource and plots the last two
// minutes on plain canvases. Talks only to the gateway that served it.
//
// The stream needs the admin right. The page takes it from, in order:
//   #access_token=JWT in its URL (the fragment never leaves the browser): each
//     connection trades it for a one-time ticket (POST /auth/ticket);
//   ?access_token=JWT in its URL, passed on as is;
//   the auth_cookie, which the browser sends by itself; or nothing (a gateway
//     without auth_jwt_alg lets anyone read it on loopback).
// window.__dashboard holds the latest snapshot and the values last plotted.
import { el } from './common.js';

const WINDOW = 120; // points kept: two minutes at one a second
const RETRY_MS = 2000;
const TRANSPORTS = ['ws', 'sse', 'longpoll', 'chunked', 'ndjson'];
const COLOURS = ['#0f766e', '#2563eb', '#d97706', '#9333ea', '#dc2626', '#64748b'];

const $ = (id) => document.getElementById(id);
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const fmt = (v) => (v == null ? '–' : Number.isInteger(v) ? v.toLocaleString('en') : String(+v.toFixed(v < 10 ? 2 : 1)));

// A line chart of named series over the last WINDOW points; a null value
// leaves a hole. Scales its y axis to what it holds.
class LineChart {
  constructor(canvas, names) {
    this.canvas = canvas;
    this.names = names;
    this.points = []; // [{t, values: {name: number|null}}]
  }

  push(t, values) {
    this.points.push({ t, values });
    if (this.points.length > WINDOW) this.points.shift();
  }

  setNames(names) {
    if (names.join() !== this.names.join()) this.names = names;
  }

  draw() {
    const { ctx, w, h } = fit(this.canvas);
    const pad = { l: 52, r: 10, t: 22, b: 18 };
    let max = 0;
    for (const p of this.points) for (const n of this.names) max = Math.max(max, p.values[n] ?? 0);
    max = niceCeil(max);
    ctx.font = '11px system-ui, sans-serif';
    ctx.strokeStyle = css('--border');
    ctx.fillStyle = css('--muted');
    ctx.textAlign = 'right';
    for (let i = 0; i <= 4; i++) {
      const y = pad.t + ((h - pad.t - pad.b) * i) / 4;
      ctx.beginPath();
      ctx.moveTo(pad.l, y);
      ctx.lineTo(w - pad.r, y);
      ctx.stroke();
      ctx.fillText(fmt((max * (4 - i)) / 4), pad.l - 6, y + 4);
    }
    ctx.textAlign = 'left';
    ctx.fillText('2 min ago', pad.l, h - 4);
    ctx.textAlign = 'right';
    ctx.fillText('now', w - pad.r, h - 4);
    const x = (i) => pad.l + ((w - pad.l - pad.r) * (i + WINDOW - this.points.length)) / (WINDOW - 1);
    const y = (v) => pad.t + (h - pad.t - pad.b) * (1 - v / max);
    let legendX = pad.l;
    this.names.forEach((name, k) => {
      ctx.strokeStyle = ctx.fillStyle = COLOURS[k % COLOURS.length];
      ctx.lineWidth = 2;
      ctx.beginPath();
      let pen = false;
      this.points.forEach((p, i) => {
        const v = p.values[name];
        if (v == null) return (pen = false);
        pen ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v));
        pen = true;
      });
      ctx.stroke();
      ctx.lineWidth = 1;
      const last = this.points.at(-1)?.values[name];
      if (last != null) { // the newest point as a dot: a line needs two
        ctx.beginPath();
        ctx.arc(x(this.points.length - 1), y(last), 3, 0, 2 * Math.PI);
        ctx.fill();
      }
      const label = `${name} ${fmt(last)}`;
      ctx.fillRect(legendX, 6, 10, 10);
      ctx.textAlign = 'left';
      ctx.fillStyle = css('--text');
      ctx.fillText(label, legendX + 14, 15);
      legendX += ctx.measureText(label).width + 30;
    });
  }
}

// Horizontal bars: [{label, value}], largest first.
function drawBars(canvas, rows) {
  const { ctx, w, h } = fit(canvas);
  const max = niceCeil(Math.max(0, ...rows.map((r) => r.value)));
  const rowH = Math.min(28, h / Math.max(rows.length, 1));
  ctx.font = '12px system-ui, sans-serif';
  rows.forEach((r, i) => {
    const y = i * rowH;
    ctx.fillStyle = COLOURS[0];
    ctx.fillRect(180, y + 4, ((w - 260) * r.value) / max, rowH - 8);
    ctx.fillStyle = css('--text');
    ctx.textAlign = 'right';
    ctx.fillText(r.label.length > 26 ? `${r.label.slice(0, 25)}…` : r.label, 172, y + rowH / 2 + 4);
    ctx.textAlign = 'left';
    ctx.fillText(fmt(r.value), 186 + ((w - 260) * r.value) / max, y + rowH / 2 + 4);
  });
}

// Sizes the canvas' pixels to its box (and the screen's density); clears it.
function fit(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
  if (canvas.height !== Math.round(h * ratio)) canvas.height = Math.round(h * ratio);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

function niceCeil(v) {
  if (!(v > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * step).find((c) => c >= v);
}

// ---------------------------------------------------------------- data

const charts = {
  connections: new LineChart($('chart-connections'), ['streams', 'sockets']),
  rates: new LineChart($('chart-rates'), ['publishes/s']),
  slow: new LineChart($('chart-slow'), ['dropped frames/s', 'slow disconnects/s']),
  lag: new LineChart($('chart-lag'), ['p50', 'p99']),
};
const dash = (window.__dashboard = { state: 'connecting', snapshots: 0, latest: null, previous: null, plotted: null, error: null });

// Per second between two snapshots; null across a counter reset (a restart).
function rate(cur, prev, field) {
  if (!prev || cur[field] == null || prev[field] == null || cur[field] < prev[field]) return null;
  const secs = (cur.time_ms - prev.time_ms) / 1000;
  return secs > 0 ? (cur[field] - prev[field]) / secs : null;
}

function plot(s, prev) {
  const byTransport = s.connections_by_transport;
  const connections = byTransport
    ? Object.fromEntries(TRANSPORTS.filter((t) => t in byTransport).map((t) => [t, byTransport[t]]))
    : { streams: s.connections, sockets: s.open_connections };
  const plotted = {
    connections,
    'publishes/s': rate(s, prev, 'published_total'),
    'deliveries/s': rate(s, prev, 'delivered_total'),
    'dropped frames/s': rate(s, prev, 'frames_dropped_total'),
    'slow disconnects/s': rate(s, prev, 'slow_disconnects_total'),
    p50: s.delivery_lag_ms?.p50 ?? null,
    p99: s.delivery_lag_ms?.p99 ?? null,
    top: (s.top_channels || []).map((c) => ({ label: c.channel, value: c.subscribers })),
  };
  charts.connections.setNames(Object.keys(connections));
  charts.connections.push(s.time_ms, connections);
  charts.rates.setNames(s.delivered_total == null ? ['publishes/s'] : ['publishes/s', 'deliveries/s']);
  charts.rates.push(s.time_ms, plotted);
  charts.slow.push(s.time_ms, plotted);
  charts.lag.push(s.time_ms, plotted);
  for (const c of Object.values(charts)) c.draw();
  drawBars($('chart-top'), plotted.top.slice(0, 8));
  $('note-connections').textContent = byTransport ? '' : 'streams open and client sockets; this gateway does not report them per transport yet';
  $('note-rates').textContent = s.delivered_total == null ? 'deliveries: not reported by this gateway yet' : '';
  $('note-slow').textContent = `in all: ${fmt(s.frames_dropped_total)} frames dropped, ${fmt(s.slow_disconnects_total)} slow clients cut`;
  $('note-lag').textContent = s.delivery_lag_ms ? 'publish to first byte written' : 'not reported by this gateway yet';
  $('note-top').textContent = s.top_channels ? '' : 'not reported by this gateway yet';
  return plotted;
}

function tiles(s) {
  const rows = [
    ['streams', s.connections], ['sockets', s.open_connections], ['channels', s.channels],
    ['published', s.published_total], ['frames dropped', s.frames_dropped_total],
    ['slow disconnects', s.slow_disconnects_total], ['rate limited', s.rate_limited_total], ['workers', s.workers],
  ];
  $('tiles').replaceChildren(...rows.map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', { dataset: { field: k } }, fmt(v)))));
}

function setState(state, note = '') {
  dash.state = state;
  $('state').dataset.state = state;
  $('state').textContent = state;
  $('state-note').textContent = note;
}

// ---------------------------------------------------------------- stream

const hashToken = new URLSearchParams(location.hash.slice(1)).get('access_token');
const queryToken = new URLSearchParams(location.search).get('access_token');

// The stream's URL (relative: the page may sit behind a path prefix) with
// the page's credentials: a fresh ticket for a #access_token, the
// ?access_token as is, or none (the cookie, or no auth).
async function streamUrl() {
  if (hashToken) {
    const res = await fetch('auth/ticket', { method: 'POST', headers: { Authorization: `Bearer ${hashToken}` } });
    const body = await res.json();
    if (!res.ok) throw new Error(`${res.status} ${body.error}: ${body.detail}`);
    return `metrics/stream?ticket=${encodeURIComponent(body.ticket)}`;
  }
  return queryToken ? `metrics/stream?access_token=${encodeURIComponent(queryToken)}` : 'metrics/stream';
}

// Why the stream was refused: EventSource cannot say, so ask once with fetch.
async function refusal() {
  const ctl = new AbortController();
  try {
    const res = await fetch(await streamUrl(), { signal: ctl.signal, headers: { Accept: 'application/json' } });
    if (res.ok) return null;
    const body = await res.json();
    return `${res.status} ${body.error}: ${body.detail}`;
  } catch (err) {
    return String(err.message || err);
  } finally {
    ctl.abort();
  }
}

async function open() {
  let es;
  try {
    es = new EventSource(await streamUrl());
  } catch (err) {
    setState('error', String(err.message || err));
    return setTimeout(open, RETRY_MS);
  }
  es.onopen = () => setState('open', 'a snapshot a second');
  es.onmessage = (e) => {
    const s = JSON.parse(e.data);
    dash.previous = dash.latest;
    dash.latest = s;
    dash.snapshots++;
    dash.plotted = plot(s, dash.previous);
    tiles(s);
  };
  es.onerror = async () => {
    es.close(); // reconnect ourselves: a ticket is good for one connection only
    const why = await refusal();
    dash.error = why;
    setState(why ? 'error' : 'reconnecting', why || 'the stream broke; reconnecting');
    setTimeout(open, RETRY_MS);
  };
}

addEventListener('resize', () => {
  for (const c of Object.values(charts)) c.draw();
  if (dash.plotted) drawBars($('chart-top'), dash.plotted.top.slice(0, 8));
});
open();
