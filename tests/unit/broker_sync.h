/*
 * broker_sync — the asynchronous broker operations as plain calls, for the
 * brokers that complete at once (memory, workers): each helper checks the
 * callback ran exactly once before the operation returned.
 */
#ifndef SG_TEST_BROKER_SYNC_H
#define SG_TEST_BROKER_SYNC_H

#include "core/broker.h"

typedef struct sync_result {
	int calls, rc;
	sg_publish_result res;
	sg_channel_info info;
	size_t subscribers;
} sync_result;

static inline void sync_published(void *ud, int rc, const sg_publish_result *res)
{
	sync_result *r = ud;
	r->calls++;
	r->rc = rc;
	if (res)
		r->res = *res;
}

static inline void sync_info(void *ud, int rc, const sg_channel_info *info)
{
	sync_result *r = ud;
	r->calls++;
	r->rc = rc;
	if (info)
		r->info = *info;
}

static inline void sync_removed(void *ud, int rc, size_t subscribers)
{
	sync_result *r = ud;
	r->calls++;
	r->rc = rc;
	r->subscribers = subscribers;
}

static inline int broker_publish_now(sg_broker *b, const sg_publish_req *req,
				     sg_publish_result *res)
{
	sync_result r = {0};
	sg_broker_publish(b, req, sync_published, &r);
	assert_int_equal(r.calls, 1);
	if (res)
		*res = r.res;
	return r.rc;
}

static inline int broker_info_now(sg_broker *b, const char *channel, sg_channel_info *out)
{
	sync_result r = {0};
	sg_broker_info(b, channel, sync_info, &r);
	assert_int_equal(r.calls, 1);
	*out = r.info;
	return r.rc;
}

static inline int broker_remove_now(sg_broker *b, const char *channel, size_t *subscribers)
{
	sync_result r = {0};
	sg_broker_remove(b, channel, sync_removed, &r);
	assert_int_equal(r.calls, 1);
	if (!r.rc)
		*subscribers = r.subscribers;
	return r.rc;
}

#endif
