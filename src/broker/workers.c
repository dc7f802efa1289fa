/*
 * workers — the broker of a gateway that runs several loops (--workers N),
 * each with its own hub. A bus shared by all of them, behind one mutex:
 *
 *  - ids come from the bus, so they are one order across workers;
 *  - a publish or delete is pushed, in that order, to every worker's inbox,
 *    and each worker applies its inbox to its own hub on its own thread
 *    (woken through its loop), so every hub holds the same history and
 *    sees ids in increasing order;
 *  - subscriber counts are summed per channel, so a publish answers with
 *    the subscribers of every worker, as a single hub would.
 *
 * A worker applies its inbox before it answers a publish, a subscribe, an
 * info or a delete: whatever was published before a client's request is
 * there.
 * Nothing touches a hub while holding the bus mutex (a hub's hooks take it).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/broker.h"
#include "core/buf.h"
#include "core/loop.h"

typedef enum { ITEM_PUBLISH, ITEM_DELETE } item_kind;

/* One publish or delete, shared by every inbox it is in. */
typedef struct bus_item {
	atomic_int refs;
	item_kind kind;
	sg_id id;
	char *event;
	size_t len;
	char channel[SG_CHANNEL_NAME_MAX + 1];
	char data[];
} bus_item;

typedef struct worker {
	sg_broker base; /* first: the broker the server holds */
	sg_bus *bus;
	sg_loop *loop;
	bus_item **inbox; /* under bus->lock */
	size_t ninbox, inbox_cap;
	int wake_posted; /* under bus->lock: a drain task is on its way */
	int draining;	 /* loop thread only */
	struct worker *next;
} worker;

typedef struct dir_entry {
	long subscribers;
	struct dir_entry *next;
	char name[];
} dir_entry;

#define DIR_BUCKETS 4096

struct sg_bus {
	pthread_mutex_t lock;
	sg_id last; /* the last id given */
	worker *workers;
	dir_entry *dir[DIR_BUCKETS]; /* channels with subscribers, and how many */
};

static void item_free(bus_item *it)
{
	free(it->event);
	free(it);
}

static void item_unref(bus_item *it)
{
	if (atomic_fetch_sub(&it->refs, 1) == 1)
		item_free(it);
}

/* ---- the subscriber directory (bus->lock held) ------------------------ */

static dir_entry **dir_slot(sg_bus *bus, const char *name)
{
	size_t h = 5381;
	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	dir_entry **e = &bus->dir[h % DIR_BUCKETS];
	while (*e && strcmp((*e)->name, name) != 0)
		e = &(*e)->next;
	return e;
}

static long dir_count(sg_bus *bus, const char *name)
{
	dir_entry *e = *dir_slot(bus, name);
	return e ? e->subscribers : 0;
}

static void on_subscribers(void *ud, const char *channel, long delta)
{
	sg_bus *bus = ((worker *)ud)->bus;
	pthread_mutex_lock(&bus->lock);
	dir_entry **slot = dir_slot(bus, channel), *e = *slot;
	if (!e && delta > 0 && (e = calloc(1, sizeof(*e) + strlen(channel) + 1))) {
		strcpy(e->name, channel);
		*slot = e;
	}
	if (e && (e->subscribers += delta) <= 0) {
		*slot = e->next;
		free(e);
	}
	pthread_mutex_unlock(&bus->lock);
}

static long subscribers_of(sg_bus *bus, const char *channel)
{
	pthread_mutex_lock(&bus->lock);
	long n = dir_count(bus, channel);
	pthread_mutex_unlock(&bus->lock);
	return n;
}

static int elsewhere(void *ud, const char *channel)
{
	return subscribers_of(((worker *)ud)->bus, channel) > 0;
}

/* ---- inboxes ----------------------------------------------------------- */

static void drain(void *w);

/* Pushes it to every inbox and wakes the other workers (bus->lock held).
 * SG_ENOMEM leaves every inbox as it was. */
static int push_all(sg_bus *bus, worker *self, bus_item *it)
{
	int n = 0;
	for (worker *w = bus->workers; w; w = w->next, n++)
		if (sg_array_room(&w->inbox, w->ninbox, &w->inbox_cap, sizeof(*w->inbox), 64))
			return SG_ENOMEM;
	atomic_store(&it->refs, n);
	for (worker *w = bus->workers; w; w = w->next) {
		w->inbox[w->ninbox++] = it;
		if (w != self && !w->wake_posted)
			w->wake_posted = w->loop->post(w->loop, drain, w) == 0;
	}
	return 0;
}

static void apply(worker *w, const bus_item *it)
{
	sg_hub *hub = w->base.hub;
	if (it->kind == ITEM_DELETE) {
		size_t gone;
		sg_hub_delete(hub, it->channel, &gone);
		return;
	}
	char id[SG_ID_TEXT_MAX];
	sg_id_format(it->id, id);
	sg_publish_req req = {.channel = it->channel, .event = it->event, .id = id,
			      .data = it->data, .len = it->len};
	if (sg_hub_publish(hub, &req, NULL))
		sg_hub_lost(hub, it->id); /* e.g. max_channels here: resumes see a gap */
}

/* Applies worker arg's inbox to its hub, in order (its loop thread): a
 * posted task and the hub's sync hook. A drain started from inside one (a
 * hook that publishes) leaves the work to the outer one. */
static void drain(void *arg)
{
	worker *w = arg;
	if (w->draining)
		return;
	w->draining = 1;
	for (;;) {
		pthread_mutex_lock(&w->bus->lock);
		bus_item **v = w->inbox;
		size_t n = w->ninbox;
		w->inbox = NULL;
		w->ninbox = w->inbox_cap = 0;
		w->wake_posted = 0;
		pthread_mutex_unlock(&w->bus->lock);
		if (!n) {
			free(v);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			apply(w, v[i]);
			item_unref(v[i]);
		}
		free(v);
	}
	w->draining = 0;
}

/* ---- broker operations ------------------------------------------------- */

static bus_item *item_new(item_kind kind, const char *channel, const char *event,
			  const void *data, size_t len)
{
	bus_item *it = malloc(sizeof(*it) + len + 1);
	if (!it)
		return NULL;
	it->kind = kind;
	it->len = len;
	it->id = (sg_id){0, 0};
	strcpy(it->channel, channel);
	if (len)
		memcpy(it->data, data, len);
	it->data[len] = '\0';
	it->event = event ? strdup(event) : NULL;
	if (event && !it->event) {
		free(it);
		return NULL;
	}
	return it;
}

static int workers_publish_now(sg_broker *b, const sg_publish_req *req, sg_publish_result *res)
{
	worker *w = (worker *)b;
	sg_bus *bus = w->bus;
	if (!sg_channel_name_valid(req->channel) || !sg_event_name_valid(req->event))
		return SG_EINVAL;
	drain(w); /* max_channels counts what came before, as the hub will */
	if (sg_hub_make_room(b->hub, req->channel))
		return SG_ETOOBIG;
	bus_item *it = item_new(ITEM_PUBLISH, req->channel, req->event, req->data, req->len);
	if (!it)
		return SG_ENOMEM;
	pthread_mutex_lock(&bus->lock);
	int rc = sg_id_accept(req->id, bus->last, (uint64_t)sg_wall_ms(), &it->id);
	if (!rc && !(rc = push_all(bus, w, it)))
		bus->last = it->id;
	long subscribers = dir_count(bus, req->channel);
	pthread_mutex_unlock(&bus->lock);
	if (rc) {
		item_free(it);
		return rc;
	}
	if (res) {
		sg_id_format(it->id, res->id); /* still ours: our inbox holds a ref */
		res->subscribers = (size_t)subscribers;
	}
	drain(w);
	return 0;
}

static int workers_info_now(sg_broker *b, const char *channel, sg_channel_info *out)
{
	worker *w = (worker *)b;
	drain(w);
	int rc = sg_hub_channel_info(b->hub, channel, out);
	long subscribers = subscribers_of(w->bus, channel);
	if (rc == SG_ENOTFOUND && subscribers > 0) { /* only other workers have it */
		*out = (sg_channel_info){0};
		rc = 0;
	}
	if (rc == 0)
		out->subscribers = (size_t)subscribers;
	return rc;
}

static int workers_remove_now(sg_broker *b, const char *channel, size_t *subscribers)
{
	worker *w = (worker *)b;
	sg_channel_info here;
	if (!sg_channel_name_valid(channel))
		return SG_ENOTFOUND; /* no such channel, and too long for an item */
	drain(w);
	int known = sg_hub_channel_info(b->hub, channel, &here) == 0;
	bus_item *it = item_new(ITEM_DELETE, channel, NULL, NULL, 0);
	if (!it)
		return SG_ENOMEM;
	pthread_mutex_lock(&w->bus->lock);
	long n = dir_count(w->bus, channel);
	int rc = known || n > 0 ? push_all(w->bus, w, it) : SG_ENOTFOUND;
	pthread_mutex_unlock(&w->bus->lock);
	if (rc) {
		item_free(it);
		return rc;
	}
	*subscribers = (size_t)n;
	drain(w);
	return 0;
}

/* The bus answers at once: the callbacks run before these return. */
static void workers_publish(sg_broker *b, const sg_publish_req *req, sg_broker_published_fn done,
			    void *ud)
{
	sg_publish_result res;
	int rc = workers_publish_now(b, req, &res);
	done(ud, rc, rc ? NULL : &res);
}

static void workers_info(sg_broker *b, const char *channel, sg_broker_info_fn done, void *ud)
{
	sg_channel_info ci;
	int rc = workers_info_now(b, channel, &ci);
	done(ud, rc, rc ? NULL : &ci);
}

static void workers_remove(sg_broker *b, const char *channel, sg_broker_removed_fn done, void *ud)
{
	size_t n = 0;
	int rc = workers_remove_now(b, channel, &n);
	done(ud, rc, n);
}

static void workers_free(sg_broker *b)
{
	worker *w = (worker *)b;
	if (!w)
		return;
	sg_hub_set_hooks(b->hub, NULL);
	pthread_mutex_lock(&w->bus->lock);
	for (worker **p = &w->bus->workers; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	bus_item **v = w->inbox;
	size_t n = w->ninbox;
	pthread_mutex_unlock(&w->bus->lock);
	for (size_t i = 0; i < n; i++)
		item_unref(v[i]);
	free(v);
	free(w);
}

static const sg_broker_ops workers_ops = {
	.name = "workers",
	.publish = workers_publish,
	.info = workers_info,
	.remove = workers_remove,
	.free = workers_free,
};

sg_broker *sg_broker_workers_new(sg_bus *bus, sg_hub *hub, sg_loop *loop)
{
	worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->base.ops = &workers_ops;
	w->base.hub = hub;
	w->bus = bus;
	w->loop = loop;
	pthread_mutex_lock(&bus->lock);
	if (sg_id_cmp(sg_hub_last(hub), bus->last) > 0)
		bus->last = sg_hub_last(hub); /* every hub takes the bus' ids */
	worker **tail = &bus->workers;
	while (*tail)
		tail = &(*tail)->next;
	*tail = w;
	pthread_mutex_unlock(&bus->lock);
	sg_hub_set_hooks(hub, &(sg_hub_hooks){.sync = drain, .subscribers = on_subscribers,
					      .elsewhere = elsewhere, .ud = w});
	return &w->base;
}

sg_bus *sg_bus_new(void)
{
	sg_bus *bus = calloc(1, sizeof(*bus));
	if (!bus)
		return NULL;
	pthread_mutex_init(&bus->lock, NULL);
	bus->last = (sg_id){(uint64_t)sg_wall_ms(), 0};
	return bus;
}

void sg_bus_free(sg_bus *bus)
{
	if (!bus)
		return;
	for (size_t i = 0; i < DIR_BUCKETS; i++)
		while (bus->dir[i]) {
			dir_entry *e = bus->dir[i];
			bus->dir[i] = e->next;
			free(e);
		}
	pthread_mutex_destroy(&bus->lock);
	free(bus);
}
