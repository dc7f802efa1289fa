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

#endif
