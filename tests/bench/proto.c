/*
 * proto — the wire formats sg-loadgen speaks: request texts for each
 * target, an incremental HTTP/1.1 response parser (head, Content-Length
 * and chunked bodies), a WebSocket frame parser for server frames, and
 * the scanner that finds message tokens in whatever framing carries them.
 * Nothing here touches a socket; every parser accepts input cut anywhere.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench.h"

enum { CK_SIZE, CK_EXT, CK_DATA, CK_DATA_END, CK_TRAILER };

void bench_http_reset(bench_http *p)
{
	memset(p, 0, sizeof(*p));
	p->content_len = -1;
}

/* A header value starts after the colon and blanks; NULL if name differs. */
static const char *header_value(const char *line, const char *name)
{
	size_t n = strlen(name);
	if (strncasecmp(line, name, n) || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

static int contains_token(const char *value, const char *token)
{
	size_t n = strlen(token);
	for (const char *p = value; *p; p++)
		if (!strncasecmp(p, token, n))
			return 1;
	return 0;
}

/* Copies an id made of [A-Za-z0-9:._-] (what fits a URL as is); "" otherwise. */
static void copy_id(char out[BENCH_CURSOR], const char *v)
{
	size_t n = 0;
	for (; v[n] && n < BENCH_CURSOR - 1u; n++)
		if (!isalnum((unsigned char)v[n]) && !strchr(":._-", v[n]))
			break;
	memcpy(out, v, n);
	out[n] = '\0';
}

/* One complete line of the head (no CR LF). Returns 1 at the blank line. */
static int head_line(bench_http *p)
{
	p->line[p->line_len] = '\0';
	const char *line = p->line;
	const char *v;
	if (!p->status) {
		unsigned st = 0;
		if (sscanf(line, "HTTP/1.%*d %u", &st) != 1 || st < 100 || st > 999)
			return -1;
		p->status = (uint16_t)st;
		return 0;
	}
	if (!p->line_len)
		return 1;
	if ((v = header_value(line, "transfer-encoding")))
		p->chunked = (uint8_t)contains_token(v, "chunked");
	else if ((v = header_value(line, "content-length")))
		p->content_len = strtoll(v, NULL, 10);
	else if ((v = header_value(line, "last-event-id")))
		copy_id(p->cursor, v);
	else if ((v = header_value(line, "connection")))
		p->conn_close = (uint8_t)contains_token(v, "close");
	return 0;
}

static void head_done(bench_http *p)
{
	if (p->status == 101 || p->status == 204 || p->status == 304) {
		p->state = BENCH_HS_DONE; /* 101: the caller takes the raw bytes */
	} else if (p->chunked) {
		p->state = BENCH_HS_BODY;
		p->ck_state = CK_SIZE;
		p->left = 0;
	} else if (p->content_len >= 0) {
		p->left = (uint64_t)p->content_len;
		p->state = p->left ? BENCH_HS_BODY : BENCH_HS_DONE;
	} else {
		p->state = BENCH_HS_BODY; /* delimited by the close */
	}
}

static ssize_t feed_head(bench_http *p, const char *data, size_t len)
{
	const char *lf = memchr(data, '\n', len);
	size_t take = lf ? (size_t)(lf - data) : len;
	size_t room = sizeof(p->line) - 1u - p->line_len;
	memcpy(p->line + p->line_len, data, take < room ? take : room);
	p->line_len = (uint16_t)(p->line_len + (take < room ? take : room));
	if (!lf)
		return (ssize_t)len;
	if (p->line_len && p->line[p->line_len - 1] == '\r')
		p->line_len--;
	int rc = head_line(p);
	p->line_len = 0;
	if (rc < 0)
		return -1;
	if (rc > 0)
		head_done(p);
	return (ssize_t)(take + 1);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Chunk framing, one step; returns bytes used. */
static ssize_t feed_chunked(bench_http *p, const char *data, size_t len, bench_body_fn body_fn,
                            void *ud)
{
	char c = data[0];
	switch (p->ck_state) {
	case CK_SIZE:
	case CK_EXT:
		if (c == '\n') {
			p->ck_state = p->left ? CK_DATA : CK_TRAILER;
			p->line_len = 0;
		} else if (p->ck_state == CK_SIZE && hex_value(c) >= 0) {
			if (p->left >> 56)
				return -1;
			p->left = p->left * 16u + (uint64_t)hex_value(c);
		} else if (c != '\r') {
			p->ck_state = CK_EXT;
		}
		return 1;
	case CK_DATA: {
		size_t n = len < p->left ? len : (size_t)p->left;
		if (body_fn)
			body_fn(ud, data, n);
		p->left -= n;
		if (!p->left)
			p->ck_state = CK_DATA_END;
		return (ssize_t)n;
	}
	case CK_DATA_END:
		if (c == '\n')
			p->ck_state = CK_SIZE;
		else if (c != '\r')
			return -1;
		return 1;
	default: /* CK_TRAILER: lines until a blank one */
		if (c == '\n') {
			if (!p->line_len)
				p->state = BENCH_HS_DONE;
			p->line_len = 0;
		} else if (c != '\r') {
			p->line_len = 1;
		}
		return 1;
	}
}

ssize_t bench_http_feed(bench_http *p, const char *data, size_t len, bench_body_fn body_fn,
                        void *ud)
{
	size_t used = 0;
	while (used < len && p->state != BENCH_HS_DONE) {
		ssize_t n;
		if (p->state == BENCH_HS_ERROR) {
			return -1;
		} else if (p->state == BENCH_HS_HEAD) {
			n = feed_head(p, data + used, len - used);
		} else if (p->chunked) {
			n = feed_chunked(p, data + used, len - used, body_fn, ud);
		} else {
			size_t take = len - used;
			if (p->content_len >= 0 && take > p->left)
				take = (size_t)p->left;
			if (body_fn)
				body_fn(ud, data + used, take);
			if (p->content_len >= 0 && !(p->left -= take))
				p->state = BENCH_HS_DONE;
			n = (ssize_t)take;
		}
		if (n < 0) {
			p->state = BENCH_HS_ERROR;
			return -1;
		}
		used += (size_t)n;
	}
	return (ssize_t)used;
}

/* ---- message tokens ---- */

static const char lit_seq[] = "seq=";
static const char lit_t[] = " t=";

void bench_scan_feed(bench_scan *s, const char *data, size_t len, bench_token_fn fn, void *ud)
{
	size_t i = 0;
	while (i < len) {
		char c = data[i];
		if (s->phase == 0 && s->pos == 0) {
			const char *p = memchr(data + i, 's', len - i);
			if (!p)
				return;
			i = (size_t)(p - data) + 1;
			s->pos = 1;
			continue;
		}
		int digit = c >= '0' && c <= '9';
		if (s->phase == 0 || s->phase == 2) {
			const char *lit = s->phase ? lit_t : lit_seq;
			if (c == lit[s->pos]) {
				i++;
				if (!lit[++s->pos]) {
					s->phase++;
					s->pos = 0;
				}
				continue;
			}
		} else if (digit && s->pos < 20) {
			uint64_t *v = s->phase == 1 ? &s->seq : &s->t;
			*v = *v * 10u + (uint64_t)(c - '0');
			s->pos++;
			i++;
			continue;
		} else if (s->pos && s->phase == 1) {
			s->phase = 2;
			s->pos = 0;
			continue; /* c is looked at again as the literal */
		} else if (s->pos && s->phase == 3) {
			fn(ud, s->seq, s->t);
		}
		/* mismatch or end: start over, looking at c again */
		memset(s, 0, sizeof(*s));
	}
}

/* ---- WebSocket frames from the server ---- */

static void ws_frame_start(bench_ws *w)
{
	const uint8_t *h = w->hdr;
	uint64_t n = h[1] & 0x7fu;
	if (n == 126)
		n = ((uint64_t)h[2] << 8) | h[3];
	else if (n == 127)
		for (int k = 0; k < 8; k++)
			n = (n << 8) | h[2 + k];
	w->opcode = h[0] & 0x0fu;
	w->left = n;
	w->in_payload = 1;
	w->ctl_len = 0;
	w->hlen = 0;
}

static void ws_frame_end(bench_ws *w, bench_pong_fn pong_fn, void *ud)
{
	if (w->opcode == 0x9 && pong_fn)
		pong_fn(ud, w->ctl, w->ctl_len);
	else if (w->opcode == 0x8)
		w->closed = 1;
	w->in_payload = 0;
}

void bench_ws_feed(bench_ws *w, bench_scan *s, const char *data, size_t len, bench_token_fn fn,
                   bench_pong_fn pong_fn, void *ud)
{
	size_t i = 0;
	while (i < len && !w->closed) {
		if (!w->in_payload) {
			w->hdr[w->hlen++] = (uint8_t)data[i++];
			if (w->hlen == 2) {
				if (w->hdr[1] & 0x80u) { /* a masked server frame: refuse */
					w->closed = 1;
					return;
				}
				unsigned l7 = w->hdr[1] & 0x7fu;
				w->need = (uint8_t)(2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0));
			}
			if (w->hlen >= 2 && w->hlen == w->need) {
				ws_frame_start(w);
				if (!w->left)
					ws_frame_end(w, pong_fn, ud);
			}
			continue;
		}
		size_t n = len - i < w->left ? len - i : (size_t)w->left;
		if (w->opcode < 0x8) {
			bench_scan_feed(s, data + i, n, fn, ud);
		} else {
			size_t room = sizeof(w->ctl) - w->ctl_len;
			size_t k = n < room ? n : room;
			memcpy(w->ctl + w->ctl_len, data + i, k);
			w->ctl_len = (uint8_t)(w->ctl_len + k);
		}
		i += n;
		w->left -= n;
		if (!w->left) {
			if (w->opcode < 0x8 && (w->hdr[0] & 0x80u)) /* end of message */
				bench_scan_feed(s, "\n", 1, fn, ud);
			ws_frame_end(w, pong_fn, ud);
		}
	}
}

/* ---- requests ---- */

void bench_payload(char out[BENCH_PAYLOAD_BYTES], uint64_t seq, uint64_t sent_ns)
{
	char tmp[BENCH_PAYLOAD_BYTES + 32];
	int n = snprintf(tmp, sizeof(tmp), "seq=%08" PRIu64 " t=%019" PRIu64 " ", seq, sent_ns);
	if (n > BENCH_PAYLOAD_BYTES)
		n = BENCH_PAYLOAD_BYTES;
	memset(out, 'x', BENCH_PAYLOAD_BYTES);
	memcpy(out, tmp, (size_t)n);
}

void bench_base64(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

int bench_sub_port(const bench_opts *o, int i)
{
	return o->nports > 1 ? o->ports[i % o->nports] : o->port;
}

int bench_sub_path(char *out, size_t cap, const bench_opts *o, const char *channel, int index)
{
	int n;
	if (o->path_template)
		n = snprintf(out, cap, o->path_template, index); /* one %d: checked */
	else
		n = snprintf(out, cap, "%s%s", o->target == BENCH_STREAMGATE ? "/channels/" : "/sub/",
		             channel);
	return n > 0 && (size_t)n < cap ? n : -1;
}

int bench_sub_request(char *out, size_t cap, const bench_opts *o, int port, const char *path,
                      const char *cursor, const unsigned char ws_key[16])
{
	char query[96] = "";
	char extra[160] = "";
	if (o->transport == BENCH_LONGPOLL) {
		if (cursor && *cursor)
			snprintf(query, sizeof(query), "?transport=longpoll&last_event_id=%s",
			         cursor);
		else
			snprintf(query, sizeof(query), "?transport=longpoll");
	} else if (o->transport == BENCH_SSE) {
		snprintf(extra, sizeof(extra), "Accept: text/event-stream\r\n");
	} else if (o->transport == BENCH_WS) {
		char key[32];
		bench_base64(ws_key, 16, key);
		snprintf(extra, sizeof(extra),
		         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		         "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
		         key);
	} else if (o->target == BENCH_PUSHPIN && !o->path_template) {
		/* the bench backend's GRIP answer; a proxied path is the upstream's */
		snprintf(query, sizeof(query), "?transport=chunked");
	}
	int n = snprintf(out, cap, "GET %s%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", path,
	                 query, port, extra);
	return n > 0 && (size_t)n < cap ? n : -1;
}

/* Pushpin takes JSON: one item, both formats, the stream text escaped. */
static int pushpin_body(char *out, size_t cap, const bench_opts *o, const char *channel,
                        const char payload[BENCH_PAYLOAD_BYTES])
{
	const char *pre = o->transport == BENCH_SSE ? "data: " : "";
	const char *post = o->transport == BENCH_SSE ? "\\n\\n" : "\\n";
	int n = snprintf(out, cap,
	                 "{\"items\":[{\"channel\":\"%s\",\"formats\":{"
	                 "\"http-stream\":{\"content\":\"%s%.*s%s\"},"
	                 "\"ws-message\":{\"content\":\"%.*s\"}}}]}",
	                 channel, pre, BENCH_PAYLOAD_BYTES, payload, post, BENCH_PAYLOAD_BYTES,
	                 payload);
	return n > 0 && (size_t)n < cap ? n : -1;
}

int bench_pub_request(char *out, size_t cap, const bench_opts *o, const char *channel,
                      const char payload[BENCH_PAYLOAD_BYTES])
{
	char body[512];
	const char *path_pre = o->target == BENCH_NCHAN ? "/pub/" : "/channels/";
	const char *type = "text/plain";
	int blen;
	char path[192];
	if (o->target == BENCH_PUSHPIN) {
		blen = pushpin_body(body, sizeof(body), o, channel, payload);
		type = "application/json";
		snprintf(path, sizeof(path), "/publish/");
	} else {
		memcpy(body, payload, BENCH_PAYLOAD_BYTES);
		blen = BENCH_PAYLOAD_BYTES;
		snprintf(path, sizeof(path), "%s%s", path_pre, channel);
	}
	if (blen < 0)
		return -1;
	int n = snprintf(out, cap,
	                 "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: %s\r\n"
	                 "Content-Length: %d\r\n\r\n",
	                 path, o->pub_port, type, blen);
	if (n < 0 || (size_t)n + (size_t)blen >= cap)
		return -1;
	memcpy(out + n, body, (size_t)blen);
	return n + blen;
}
