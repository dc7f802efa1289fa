/*
 * fuzz_h2 — our HTTP/2 glue (src/server/h2.c, h2_stream.c) behind a
 * memory transport: the client preface, then the input as the frames a
 * hostile client sends, fed in pieces to a server session over the fuzz
 * world (a real hub, routing, admission and endpoints; no socket, no TLS).
 * nghttp2 parses the wire; what is ours is everything its callbacks do:
 * headers turned into requests, bodies and their bounds, answers, streams,
 * long-polls, resets. Checks: what the server writes is a run of whole
 * HTTP/2 frames, none over the default frame size, and after the session
 * is freed no stream, message or frame is left alive.
 */
#include <ev.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_world.h"
#include "server/admit.h"
#include "server/chan_stats.h"
#include "server/conn.h"
#include "server/h2.h"
#include "server/tls.h"

/* ---- the TLS connection, in memory -------------------------------------- */

int sg__tls_queue(sg_tls *t, const void *p, size_t n)
{
	return sg_buf_append(&t->out, p, n);
}

size_t sg__tls_pending(const sg_tls *t)
{
	(void)t;
	return 0; /* the peer reads at once */
}

void sg__tls_kick(sg_tls *t)
{
	sg__h2_send(t);
}

void sg__tls_settle(sg_tls *t)
{
	(void)t;
}

/* conn.c's write pass knows every connection kind; only HTTP/2 is here */
void sg__ws_write_pass(sg_conn *c)
{
	(void)c;
}

void sg__h1_write_pass(sg_conn *c)
{
	(void)c;
}

void sg__ws_ping(sg_conn *c)
{
	(void)c;
}

void sg__ws_release(sg_conn *c)
{
	(void)c;
}

/* ---- checks ------------------------------------------------------------ */

/* The server's bytes after its connection preface: whole frames. */
static void check_frames(const sg_buf *out)
{
	size_t at = 0;
	while (at + 9 <= out->len) {
		const unsigned char *h = (const unsigned char *)out->data + at;
		size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
		SG_FUZZ_CHECK(len <= 16384); /* the client never raised SETTINGS_MAX_FRAME_SIZE here */
		at += 9 + len;
	}
	SG_FUZZ_CHECK(at == out->len);
}

/* Runs the write pass of every connection marked this "turn". */
static void write_passes(sg_server *srv)
{
	sg_conn *c;
	while ((c = srv->dirty)) {
		sg__conn_dirty_unlink(c);
		if (c->is_h2)
			sg__h2_write_pass(c);
	}
}

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;
	if (!loop)
		loop = ev_loop_new(EVFLAG_AUTO);
	sg_fuzz_world *w = sg_fuzz_world_new();
	sg_server *srv = &w->srv;
	sg_server *workers[1] = {srv};
	/* the shared admission tables a real group has (/metrics reads them) */
	sg_group *group = &w->group;
	group->n = 1;
	group->workers = workers;
	SG_FUZZ_CHECK((group->ips = sg__ip_table_new()) && (group->rates = sg__rate_table_new()) &&
	              (group->chan_snaps = sg__chan_snaps_new(1)));
	srv->evloop = loop;
	snprintf(srv->cfg.www, sizeof(srv->cfg.www), "/nonexistent");
	srv->cfg.max_body_bytes = 4096;
	srv->cfg.max_header_bytes = 2048;

	sg_tls t = {.srv = srv, .mode = SG_TLS_H2, .pfd = -1};
	ev_init(&t.timer, NULL);
	SG_FUZZ_CHECK(sg__h2_start(&t) == 0);
	int over = sg__h2_recv(&t, preface, sizeof(preface) - 1) != 0;
	/* the first byte says how the rest is cut: 1 to 256 bytes a read */
	size_t piece = size ? (size_t)data[0] + 1 : 1;
	for (size_t at = size ? 1 : 0; at < size && !over && !t.dead; at += piece) {
		size_t n = size - at < piece ? size - at : piece;
		over = sg__h2_recv(&t, (const char *)data + at, n) != 0;
		sg__h2_send(&t);
		write_passes(srv);
	}
	sg__h2_send(&t);
	write_passes(srv);
	check_frames(&t.out);
	ev_timer_stop(loop, &t.timer);
	sg__h2_free(&t);
	sg_buf_free(&t.out);
	SG_FUZZ_CHECK(srv->conns == NULL);
	sg__ip_table_free(group->ips);
	sg__rate_table_free(group->rates);
	sg__chan_snaps_free(group->chan_snaps);
	sg_fuzz_world_free(w);
	return 0;
}
