/*
 * examples — streaming endpoints written only with the public API, served
 * by the streamgate command under /examples/ when `examples` is on.
 */
#ifndef SG_EXAMPLES_H
#define SG_EXAMPLES_H

#include "streamgate.h"

/* Routes /examples/firehose, /examples/clock, /examples/delay/N and
 * /examples/chat/ROOM on srv (borrowed; must outlive the routes). */
int sg_examples_register(sg_server *srv);

/* Each example's handler; ud is the server for chat, unused otherwise. */
void sg_example_firehose(sg_stream *s, const sg_request *req, void *ud);
void sg_example_clock(sg_stream *s, const sg_request *req, void *ud);
void sg_example_delay(sg_stream *s, const sg_request *req, void *ud);
void sg_example_chat(sg_stream *s, const sg_request *req, void *ud);

/* Reads ?name= as a number in [lo, hi]; def when absent. -1 when bad. */
long sg_example_arg(const sg_request *req, const char *name, long def, long lo, long hi);
/* Reads ?count= (def_count; 0 = never stop) and ?interval_ms=, keeps the
 * count as the stream's user data and calls tick every interval. Fails the
 * request (400) on a bad argument. */
void sg_example_ticker(sg_stream *s, const sg_request *req, long def_count, long def_ms,
		       sg_timer_fn tick);
/* One tick done: nonzero when it was the last of ?count= (then the stream
 * is closed). */
int sg_example_countdown(sg_stream *s);

#endif
