/*
 * channels — what the pub/sub endpoint's HTTP side and its WebSocket
 * commands share: subscribing a stream to a list of channels and
 * publishing with every check a client's input needs.
 */
#ifndef SG_ENDPOINTS_CHANNELS_H
#define SG_ENDPOINTS_CHANNELS_H

#include "core/hub.h"
#include "server/server.h"

#define SG_BAD_CHANNEL "channel names are 1 to 128 characters of A-Z a-z 0-9 _ . : -"
#define SG_CHANNELS_PER_STREAM 16

/* An error a client caused: HTTP status, code and text (all static). */
typedef struct sg_client_error {
	int status;
	const char *error, *detail;
} sg_client_error;

/* Publishes p (borrowed) after checking its text and event. Returns 0 and
 * fills res, or nonzero with *e filled. */
int sg__channels_publish(sg_server *srv, const sg_publish_req *p, sg_publish_result *res,
			 sg_client_error *e);
/* Subscribes s to a channel or a list "a,b" from last_id (NULL: live). */
int sg__channels_subscribe(sg_stream *s, const char *name, const char *last_id,
			   sg_client_error *e);
/* The WebSocket command handler of a channels stream (sg_message_fn). */
void sg__channels_command(sg_stream *s, const char *data, size_t len, void *srv);

#endif
