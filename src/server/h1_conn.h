/*
 * h1_conn — the HTTP/1 connection, private to the engine's two rooms:
 * h1.c (sockets, buffers, timers, the connection's life) and h1_request.c
 * (what each request gets: an answer, a body read, a stream, an upgrade).
 */
#ifndef SG_SERVER_H1_CONN_H
#define SG_SERVER_H1_CONN_H

#include <ev.h>
#include <stddef.h>
#include <sys/socket.h>

#include "conn.h"
#include "h1.h"
#include "h1_parse.h"
#include "http.h"
#include "reply.h"
#include "respond.h"

#define SG_CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

typedef enum sg_h1_state {
	SG_H1_HEAD,    /* waiting for (the rest of) a request head */
	SG_H1_BODY,    /* reading a request body */
	SG_H1_WAIT,    /* the answer comes later (the broker's): `reply` */
	SG_H1_BUSY,    /* a stream or long-poll owns the connection */
	SG_H1_CLOSING, /* the last answer is being sent, then close */
	SG_H1_LINGER,  /* sent and shut for writing: reading until EOF */
	SG_H1_UPGRADE, /* to be handed to libwebsockets */
} sg_h1_state;

/* One HTTP/1 connection; owns fd, its buffers and (through c) its stream
 * and request. c comes first: a stream's sink gets &c. */
typedef struct sg_h1 {
	sg_conn c;
	ev_io rio, wio;
	ev_timer timer; /* head deadline, body inactivity, keep-alive idle */
	int fd;
	sg_h1_state state;
	sg_buf in;	/* bytes read, from in_off not yet used */
	size_t in_off;
	sg_buf out;	/* bytes not yet sent, from out_off */
	size_t out_off;
	sg_buf body;	/* the request body so far */
	long long body_remain;
	sg_h1_chunked chunked;
	sg_dispatch d;
	sg_reply *reply; /* SG_H1_WAIT: the answer on its way */
	sg_wire_opts wire; /* of the request being answered */
	size_t upgrade_at; /* where the upgrade request starts in `in` */
	sg_ip peer;	   /* the socket's peer */
	struct sg_ip_count *ip_lease; /* its place in max_connections_per_ip, or NULL */
	unsigned over_limit : 1, is_chunked : 1, head_started : 1, eof : 1, dead : 1,
		dead_errored : 1, processing : 1, reading : 1, over_ip_limit : 1,
		from_metrics : 1, from_grip : 1, head_later : 1, /* head_later: a streamed answer's head waits for its replay */
		upgrade_wait : 1; /* a WebSocket upgrade waits for its endpoint's preflight (WAIT) */
	struct sg_h1 *prev, *next; /* srv->h1s */
} sg_h1;

/* h1.c */
/* Marks h to be closed by its callback once the work in hand is done
 * (errored: the client vanished or broke the connection). */
void sg__h1_die(sg_h1 *h, int errored);
/* Sends bytes now when nothing waits, else after what waits; a partial
 * send keeps the rest. Marks h dead on a socket error. */
void sg__h1_send(sg_h1 *h, const void *p, size_t n);
/* Sends what waits in out; when it is all gone, moves the connection on. */
void sg__h1_flush(sg_h1 *h);
/* Asks for a write pass on the next loop turn (the stream has frames). */
void sg__h1_mark_dirty(sg_h1 *h);
/* Reads while what waits in `in` is under a head's worth (or while a
 * stream or a closing answer needs the reads); stops otherwise. */
void sg__h1_read_pace(sg_h1 *h);
/* (Re)arms the connection's one timer for ms from now; 0 stops it. */
void sg__h1_timer(sg_h1 *h, size_t ms);

/* h1_request.c */
/* Handles requests and body bytes waiting in `in` until one needs the
 * socket or more bytes. */
void sg__h1_process(sg_h1 *h);
/* Writes what a stream has queued, or its end (a write pass). */
void sg__h1_write_stream(sg_h1 *h);
/* In state WAIT: sends the answer if it has arrived (a write pass). */
void sg__h1_reply_check(sg_h1 *h);
/* The connection's timer fired in state HEAD, BODY, WAIT or CLOSING. */
void sg__h1_timed_out(sg_h1 *h);

#endif
