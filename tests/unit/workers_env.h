/*
 * workers_env — the world the workers broker tests share: two or three
 * workers on one bus, each a hub_env world (hub, fake loop, streams) with
 * its broker, all on the test thread; a worker's loop runs the drain it was
 * posted only when the test drains it. Also the helpers that publish
 * through a broker and spell the ids and SSE frames the bus gives.
 */
#ifndef SG_TEST_WORKERS_ENV_H
#define SG_TEST_WORKERS_ENV_H

#include <time.h>

#include "broker_sync.h"
#include "hub_env.h"

#define MAX_WORKERS 3
/* How far the hubs' clock stands ahead of the real one. The bus takes the
 * hubs' start as its last id and mints from the real clock, so while the
 * test runs shorter than this its ids are "<base>-1", "<base>-2", ... */
#define AHEAD_MS 30000

/* Workers sharing one bus: w[i] is worker i's hub, loop and streams, b[i]
 * its broker. Owns all of them. */
typedef struct world {
	env *w[MAX_WORKERS];
	sg_broker *b[MAX_WORKERS];
	size_t n;
	sg_bus *bus;
	uint64_t base; /* the hubs' clock: the ms of every id the bus mints */
} world;

static inline int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* n workers whose hubs have lim. Caller frees with world_free. */
static inline world *world_new(size_t n, sg_hub_limits lim)
{
	world *ws = calloc(1, sizeof(*ws));
	assert_non_null(ws);
	ws->n = n;
	ws->base = (uint64_t)(real_ms() + AHEAD_MS);
	for (size_t i = 0; i < n; i++)
		ws->w[i] = env_at(lim, (int64_t)ws->base);
	ws->bus = sg_bus_new();
	assert_non_null(ws->bus);
	for (size_t i = 0; i < n; i++) {
		ws->b[i] = sg_broker_workers_new(ws->bus, ws->w[i]->hub, &ws->w[i]->loop.base);
		assert_non_null(ws->b[i]);
	}
	return ws;
}

/* Frees the brokers, then the bus, then every hub, and checks nothing is
 * alive. No drain may be left queued: it would outlive its broker. */
static inline void world_free(world *ws)
{
	for (size_t i = 0; i < ws->n; i++)
		assert_int_equal(fake_loop_pending(&ws->w[i]->loop), 0);
	for (size_t i = 0; i < ws->n; i++)
		ws->b[i]->ops->free(ws->b[i]);
	sg_bus_free(ws->bus);
	for (size_t i = 0; i < ws->n; i++)
		env_release(ws->w[i]);
	for (size_t i = 0; i < ws->n; i++)
		env_finish(ws->w[i]);
	free(ws);
}

static const sg_hub_limits default_limits = {.history_count = 16, .history_bytes = 1 << 20};

static inline int two_setup(void **state)
{
	*state = world_new(2, default_limits);
	return 0;
}

static inline int three_setup(void **state)
{
	*state = world_new(3, default_limits);
	return 0;
}

/* Two workers whose hubs hold two channels at most. */
static inline int two_small_setup(void **state)
{
	sg_hub_limits lim = default_limits;
	lim.max_channels = 2;
	*state = world_new(2, lim);
	return 0;
}

static inline int world_teardown(void **state)
{
	world_free(*state);
	return 0;
}

/* Every worker's loop runs what was posted to it. */
static inline void drain_all(world *ws)
{
	for (size_t i = 0; i < ws->n; i++)
		fake_loop_drain(&ws->w[i]->loop);
}

/* Publishes data (borrowed) through b; id NULL: the bus gives one. */
static inline int publish_on(sg_broker *b, const char *channel, const char *id, const char *data,
                             sg_publish_result *res)
{
	sg_publish_req req = {.channel = channel, .id = id, .data = data, .len = strlen(data)};
	return broker_publish_now(b, &req, res);
}

/* Publishes "m<from>" .. "m<to>" to channel through b. */
static inline void publish_on_n(sg_broker *b, const char *channel, int from, int to)
{
	char d[16];
	for (int i = from; i <= to; i++) {
		snprintf(d, sizeof(d), "m%d", i);
		assert_int_equal(publish_on(b, channel, NULL, d, NULL), 0);
	}
}

/* "<ms>-<seq>" into out (SG_ID_TEXT_MAX bytes). */
static inline const char *id_text(uint64_t ms, uint64_t seq, char *out)
{
	sg_id_format((sg_id){ms, seq}, out);
	return out;
}

/* The SSE frames of "m<from>" .. "m<to>", each with the id the bus gave
 * it ("<base>-<k>" for "m<k>"), concatenated into out (cap bytes). */
static inline const char *sse_run(const world *ws, int from, int to, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (int k = from; k <= to; k++) {
		n += (size_t)snprintf(out + n, cap - n, "id: %llu-%d\ndata: m%d\n\n",
		                      (unsigned long long)ws->base, k, k);
		assert_true(n < cap);
	}
	return out;
}

/* What a broker's info says about channel (which must exist). */
static inline sg_channel_info broker_info(sg_broker *b, const char *channel)
{
	sg_channel_info ci;
	memset(&ci, 0xab, sizeof(ci));
	assert_int_equal(broker_info_now(b, channel, &ci), 0);
	return ci;
}

#endif
