/*
 * grip_publish — Pushpin's publish control API, POST /publish/ with
 * {"items":[...]}: each item is published into its channel through the
 * broker, so GRIP-held clients and every ordinary subscriber get it. On
 * the main listener it needs the admin right; on grip_publish_listen (the
 * backend's private port) it is trusted. One parse for the whole batch,
 * one broker publish per item, one answer when the broker took them all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/rights.h"
#include "upstream/grip.h"

#define END_JSON "{\"type\":\"end\"}"

/* A batch on its way through the broker: answered when the last is in. */
typedef struct batch {
	sg_server *srv;
	sg_reply *r;
	size_t pending; /* publishes not answered yet, +1 while still dispatching */
	int rc;         /* the first failure, 0 when none */
} batch;

static void batch_settle(batch *b)
{
	if (--b->pending)
		return;
	sg_response *r = &b->r->resp;
	if (b->rc) {
		sg_client_error e = sg__channels_publish_error(b->rc);
		sg__response_error(r, e.status, e.error, e.detail);
	} else {
		r->content_type = "text/plain";
		sg_buf_puts(&r->body, "Published\n"); /* Pushpin's answer */
	}
	sg__reply_send(b->r);
	free(b);
}

static void item_published(void *ud, int rc, const sg_publish_result *res)
{
	batch *b = ud;
	(void)res;
	if (rc && !b->rc)
		b->rc = rc;
	else if (!rc)
		atomic_fetch_add(&b->srv->published, 1);
	batch_settle(b);
}

static int item_publish(void *ud, const sg_grip_item *it)
{
	batch *b = ud;
	sg_publish_req p = {.channel = it->channel, .data = it->data, .len = it->len};
	if (it->close) { /* http-stream "action":"close": held streams end */
		p.event = "end";
		p.data = END_JSON;
		p.len = strlen(END_JSON);
	}
	b->pending++;
	sg_broker_publish(b->srv->broker, &p, item_published, b);
	return 0;
}

static void publish_post(sg_server *srv, const sg_request *req, const char *body, size_t len,
                         sg_response *r)
{
	const char *error = NULL;
	char detail[200];
	sg_buf scratch = SG_BUF_INIT;
	batch *b;
	if (sg__authorize(srv, req, SG_RIGHT_ADMIN, NULL, "publish through /publish/", r))
		return;
	if (!(b = calloc(1, sizeof(*b)))) {
		sg__response_error(r, 503, "out_of_memory", "cannot publish");
		return;
	}
	*b = (batch){.srv = srv, .pending = 1};
	if (!(b->r = sg__response_defer(r))) {
		free(b);
		return;
	}
	/* every item is checked before the first is published: a bad one publishes none */
	if (sg_grip_items_parse(body, len, &scratch, item_publish, b, &error, detail,
	                        sizeof(detail))) {
		sg__response_error(&b->r->resp, 400, error, detail);
		sg__reply_send(b->r);
		free(b);
	} else {
		batch_settle(b);
	}
	sg_buf_free(&scratch);
}

static int publish_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strcmp(path, "/publish/") == 0 || strcmp(path, "/publish") == 0;
}

const sg_endpoint sg_endpoint_grip_publish = {
    .name = "grip_publish",
    .match = publish_match,
    .methods = SG_M_POST,
    .allow = "POST, OPTIONS",
    .post = publish_post,
};
