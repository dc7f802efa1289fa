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

/* Checks a publish's channel, text and event: 0, or nonzero with *e. */
int sg__channels_publish_check(const sg_publish_req *p, sg_client_error *e);
/* The client error for a broker's publish failure rc (SG_E*). */
sg_client_error sg__channels_publish_error(int rc);
/* How a publish ended: res on success, else e (both borrowed for the call). */
typedef void (*sg_channels_published_fn)(void *ud, const sg_publish_result *res,
					 const sg_client_error *e);
/* Publishes a checked p (borrowed for the call) through the broker; done
 * runs exactly once, perhaps before this returns. */
void sg__channels_publish(sg_server *srv, const sg_publish_req *p, sg_channels_published_fn done,
			  void *ud);
/* Subscribes s to a channel or a list "a,b" from last_id (NULL: live). */
int sg__channels_subscribe(sg_stream *s, const char *name, const char *last_id,
			   sg_client_error *e);
/* The WebSocket command handler of a channels stream (sg_message_fn). */
void sg__channels_command(sg_stream *s, const char *data, size_t len, void *srv);

#endif
