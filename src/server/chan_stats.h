/*
 * chan_stats — per-channel figures for GET /channels, which /metrics must
 * not carry (channels are unbounded). Each worker keeps a snapshot of its
 * own top channels (by subscribers and by publish rate), made on its loop
 * in one walk of its hub; the worker that answers merges every worker's
 * under their locks. No JSON here (endpoints/channel_stats.c).
 */
#ifndef SG_SERVER_CHAN_STATS_H
#define SG_SERVER_CHAN_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/hub.h"
#include "server.h"

#define SG_CHAN_TOP_MAX 1000 /* each worker's top by each key: the largest ?limit= */

/* One channel as a snapshot keeps it. */
typedef struct sg_chan_entry {
	char name[SG_CHANNEL_NAME_MAX + 1];
	size_t worker; /* whose snapshot: its two tops may both hold a channel */
	size_t subscribers;
	uint64_t published;
	double rate;
} sg_chan_entry;

/* Every worker's entries merged, one per channel (subscribers added up;
 * publish figures are every hub's alike: the largest is kept). Owns v. */
typedef struct sg_chan_merged {
	sg_chan_entry *v;
	size_t n;
	size_t channels, subscribers;
	double rate;
} sg_chan_merged;

typedef struct sg_chan_snaps sg_chan_snaps;

/* Snapshots for n workers; caller frees with sg__chan_snaps_free. NULL on
 * no memory. */
sg_chan_snaps *sg__chan_snaps_new(size_t n);
void sg__chan_snaps_free(sg_chan_snaps *s);
/* Walks srv's hub into its snapshot (srv's loop thread). */
void sg__chan_snaps_refresh(sg_server *srv);
/* Once a second on srv's loop: refreshes srv's snapshot while someone has
 * asked GET /channels in the last minute. */
void sg__chan_snaps_tick(sg_server *srv);
/* A GET /channels on srv: its snapshot now, the others' on their loops
 * soon (this answer gets theirs from at most a second ago). */
void sg__chan_snaps_want(sg_server *srv);
/* Fills m (caller frees m->v); SG_ENOMEM. */
int sg__chan_snaps_merge(sg_chan_snaps *s, sg_chan_merged *m);

#endif
