/*
 * grip — GRIP (Pushpin's Generic Realtime Intermediary Protocol) for
 * upstream mode: the parsers of the publish API's items and of the
 * Grip-* instructions in an upstream's response head (grip_parse.c, no
 * sockets, fuzzed), the Grip-Sig a backend request carries (grip_sig.c),
 * and what a held client gets besides channel messages (grip.c).
 */
#ifndef SG_UPSTREAM_GRIP_H
#define SG_UPSTREAM_GRIP_H

#include <stddef.h>

#include "core/buf.h"
#include "streamgate.h"

#define SG_GRIP_ITEMS_MAX 10000    /* items in one POST /publish/ */
#define SG_GRIP_KEEPALIVE_MAX 1024 /* bytes of Grip-Keep-Alive data kept */
#define SG_GRIP_TIMEOUT_DEFAULT 55 /* Grip-Timeout when absent, seconds (Pushpin's) */
#define SG_GRIP_TIMEOUT_MAX 3600   /* Grip-Timeout and keep-alive timeout bound, seconds */

/* One item of a publish, as the channel gets it: every pointer borrowed
 * for the callback. data is the first of http-stream content (without
 * its last newline), ws-message content, http-response body (their -bin
 * forms base64 decoded); close: http-stream "action":"close". */
typedef struct sg_grip_item {
	const char *channel;
	const char *data;
	size_t len;
	int close;
} sg_grip_item;

/* Parses a publish body {"items":[...]} and checks every item (so that a
 * bad one publishes none), then calls each(ud, item) once per item in
 * order; each returning nonzero stops. scratch holds decoded base64
 * (reused, caller frees). 0; SG_EINVAL with error (static code) and a
 * reason in detail; or each's nonzero return. */
int sg_grip_items_parse(const char *body, size_t len, sg_buf *scratch,
                        int (*each)(void *ud, const sg_grip_item *it), void *ud, const char **error,
                        char *detail, size_t detaillen);

typedef enum sg_grip_hold { SG_GRIP_NONE, SG_GRIP_STREAM, SG_GRIP_RESPONSE } sg_grip_hold;

/* The Grip-* instructions of a response head. */
typedef struct sg_grip_instr {
	sg_grip_hold hold;
	char channels[512]; /* Grip-Channel names "a,b" (parameters dropped), "" when none */
	char keepalive[SG_GRIP_KEEPALIVE_MAX]; /* Grip-Keep-Alive data, decoded */
	size_t keepalive_len;
	unsigned keepalive_s; /* its timeout=, seconds (0: no keep-alive) */
	unsigned timeout_s;   /* Grip-Timeout, bounded; SG_GRIP_TIMEOUT_DEFAULT when absent */
	int link;             /* a Grip-Link came (not followed: README) */
} sg_grip_instr;

/* Reads the instructions of head[0..len) (status line, header lines;
 * CRLF or LF). Malformed values are ignored, never fatal. */
void sg_grip_instr_parse(const char *head, size_t len, sg_grip_instr *out);

/* Strict standard base64 (padding optional, canonical last character) of
 * in[0..n) appended to out:
 * 0, SG_EINVAL when it is not base64, SG_ENOMEM. */
int sg_grip_base64_decode(const char *in, size_t n, sg_buf *out);

/* Appends "Grip-Sig: JWT\r\n": HS256 over {"iss":"pushpin","exp":now+3600}
 * with key (keylen bytes). 0 or SG_ENOMEM. */
int sg_grip_sig_header(sg_buf *out, const char *key, size_t keylen, long long now_s);

#endif
