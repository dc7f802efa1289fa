/*
 * chan_stats — what GET /channels reports: each worker's snapshot of its
 * top channels, and their merge (see chan_stats.h).
 *
 * Every worker's hub sees every publish (the workers bus applies each to
 * all), so a channel's publish count and rate are the same everywhere and
 * its subscribers are the sum of the workers'. A worker's snapshot keeps
 * its top SG_CHAN_TOP_MAX channels by each key, chosen with a bounded heap in one
 * walk of its hub; a channel in no worker's top is in nobody's answer.
 * Other workers' snapshots are at most a second old.
 */
#include "chan_stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/id.h"

#define WANTED_MS 60000 /* snapshots are kept fresh this long after a GET /channels */

/* One worker's snapshot; everything under lock. */
typedef struct chan_snap {
	pthread_mutex_t lock;
	sg_chan_entry *top; /* its top by subscribers then by rate, at most 2 * SG_CHAN_TOP_MAX */
	size_t ntop;
	size_t channels, subscribers;
	double rate;
} chan_snap;

struct sg_chan_snaps {
	size_t n;
	atomic_llong wanted_until_ms;
	chan_snap snap[];
};

sg_chan_snaps *sg__chan_snaps_new(size_t n)
{
	sg_chan_snaps *s = calloc(1, sizeof(*s) + n * sizeof(s->snap[0]));
	if (!s)
		return NULL;
	s->n = n;
	for (size_t i = 0; i < n; i++)
		pthread_mutex_init(&s->snap[i].lock, NULL);
	return s;
}

void sg__chan_snaps_free(sg_chan_snaps *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		pthread_mutex_destroy(&s->snap[i].lock);
		free(s->snap[i].top);
	}
	free(s);
}

/* ---- a bounded min-heap: the top `cap` stats by one key ------------------ */

typedef struct top_heap {
	sg_channel_stat *v; /* names borrowed from the hub during its walk */
	size_t n, cap;
	int by_rate;
} top_heap;

static double key(const top_heap *t, const sg_channel_stat *s)
{
	return t->by_rate ? s->rate : (double)s->subscribers;
}

/* Nonzero when a ranks below b: smaller key, or the same and a later name. */
static int below(const top_heap *t, const sg_channel_stat *a, const sg_channel_stat *b)
{
	double ka = key(t, a), kb = key(t, b);
	return ka < kb || (ka == kb && strcmp(a->name, b->name) > 0);
}

static void heap_swap(top_heap *t, size_t i, size_t j)
{
	sg_channel_stat x = t->v[i];
	t->v[i] = t->v[j];
	t->v[j] = x;
}

static void sift_up(top_heap *t, size_t i)
{
	while (i && below(t, &t->v[i], &t->v[(i - 1) / 2])) {
		heap_swap(t, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void sift_down(top_heap *t, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < t->n && below(t, &t->v[l], &t->v[m]))
			m = l;
		if (r < t->n && below(t, &t->v[r], &t->v[m]))
			m = r;
		if (m == i)
			return;
		heap_swap(t, i, m);
		i = m;
	}
}

static void top_offer(top_heap *t, const sg_channel_stat *s)
{
	if (t->n < t->cap) {
		t->v[t->n] = *s;
		sift_up(t, t->n++);
	} else if (t->cap && below(t, &t->v[0], s)) {
		t->v[0] = *s;
		sift_down(t, 0);
	}
}

/* ---- a worker's snapshot ------------------------------------------------- */

typedef struct walk {
	top_heap subs, rate;
	size_t channels, subscribers;
	double total_rate;
} walk;

static void walk_one(void *ud, const sg_channel_stat *st)
{
	walk *w = ud;
	w->channels++;
	w->subscribers += st->subscribers;
	w->total_rate += st->rate;
	top_offer(&w->subs, st);
	top_offer(&w->rate, st);
}

static void entry_from(sg_chan_entry *e, size_t worker, const sg_channel_stat *s)
{
	e->worker = worker;
	snprintf(e->name, sizeof(e->name), "%s", s->name);
	e->subscribers = s->subscribers;
	e->published = s->published;
	e->rate = s->rate;
}

static size_t worker_index(const sg_server *srv)
{
	size_t i = 0;
	while (i < srv->group->n && srv->group->workers[i] != srv)
		i++;
	return i;
}

/* Walks srv's hub (its loop thread) into its snapshot. */
void sg__chan_snaps_refresh(sg_server *srv)
{
	size_t me = worker_index(srv);
	chan_snap *snap = &srv->group->chan_snaps->snap[me];
	sg_channel_stat *v = malloc(2 * SG_CHAN_TOP_MAX * sizeof(*v));
	sg_chan_entry *top = malloc(2 * SG_CHAN_TOP_MAX * sizeof(*top));
	if (!v || !top) { /* out of memory: the last snapshot stays */
		free(v);
		free(top);
		return;
	}
	walk w = {.subs = {v, 0, SG_CHAN_TOP_MAX, 0},
	          .rate = {v + SG_CHAN_TOP_MAX, 0, SG_CHAN_TOP_MAX, 1}};
	sg_hub_each_channel(srv->hub, sg_wall_ms(), walk_one, &w);
	size_t n = 0;
	for (size_t i = 0; i < w.subs.n; i++)
		entry_from(&top[n++], me, &w.subs.v[i]);
	for (size_t i = 0; i < w.rate.n; i++)
		entry_from(&top[n++], me, &w.rate.v[i]);
	free(v);
	pthread_mutex_lock(&snap->lock);
	free(snap->top);
	snap->top = top;
	snap->ntop = n;
	snap->channels = w.channels;
	snap->subscribers = w.subscribers;
	snap->rate = w.total_rate;
	pthread_mutex_unlock(&snap->lock);
}

static void snapshot_task(void *arg)
{
	sg__chan_snaps_refresh(arg);
}

void sg__chan_snaps_tick(sg_server *srv)
{
	sg_chan_snaps *s = srv->group->chan_snaps;
	if (s && atomic_load(&s->wanted_until_ms) > sg_wall_ms())
		sg__chan_snaps_refresh(srv);
}

/* ---- the merge --------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
	const sg_chan_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->worker > y->worker) - (x->worker < y->worker);
}

int sg__chan_snaps_merge(sg_chan_snaps *s, sg_chan_merged *m)
{
	size_t cap = 0;
	for (size_t i = 0; i < s->n; i++) {
		pthread_mutex_lock(&s->snap[i].lock);
		cap += s->snap[i].ntop;
		pthread_mutex_unlock(&s->snap[i].lock);
	}
	*m = (sg_chan_merged){0};
	if (cap && !(m->v = malloc(cap * sizeof(*m->v))))
		return SG_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		chan_snap *sn = &s->snap[i];
		pthread_mutex_lock(&sn->lock);
		size_t take = sn->ntop < cap - n ? sn->ntop : cap - n;
		if (take) /* a worker that has not made its snapshot yet has no top */
			memcpy(m->v + n, sn->top, take * sizeof(*m->v));
		n += take;
		m->channels = sn->channels > m->channels ? sn->channels : m->channels;
		m->subscribers += sn->subscribers;
		m->rate = sn->rate > m->rate ? sn->rate : m->rate;
		pthread_mutex_unlock(&sn->lock);
	}
	if (n)
		qsort(m->v, n, sizeof(*m->v), by_name);
	/* one entry per channel: each worker's subscribers once (its two tops
	 * may both hold the channel), added up */
	size_t out = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1, subs = m->v[i].subscribers;
		sg_chan_entry e = m->v[i];
		for (; j < n && strcmp(m->v[j].name, e.name) == 0; j++) {
			if (m->v[j].worker != m->v[j - 1].worker)
				subs += m->v[j].subscribers;
			e.published =
			    m->v[j].published > e.published ? m->v[j].published : e.published;
			e.rate = m->v[j].rate > e.rate ? m->v[j].rate : e.rate;
		}
		e.subscribers = subs;
		m->v[out++] = e;
		i = j;
	}
	m->n = out;
	return 0;
}

void sg__chan_snaps_want(sg_server *srv)
{
	sg_group *g = srv->group;
	atomic_store(&g->chan_snaps->wanted_until_ms, sg_wall_ms() + WANTED_MS);
	for (size_t i = 0; i < g->n; i++) /* the others refresh on their loops, for next time */
		if (g->workers[i] != srv)
			g->workers[i]->loop.post(&g->workers[i]->loop, snapshot_task,
			                         g->workers[i]);
	sg__chan_snaps_refresh(srv);
}
