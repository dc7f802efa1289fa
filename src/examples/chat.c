/*
 * chat — the rack-stream chat example: /examples/chat/ROOM subscribes to
 * channel "chat.ROOM" (history replayed with ?last_event_id=) when the
 * client may subscribe to it (its token, or anonymous_subscribe); what a
 * WebSocket client sends is published to the room, when the ws_publish
 * setting and the client's rights allow that channel; otherwise the sender
 * alone gets {"type":"error","error":"forbidden",...} (the built-in
 * commands' error) and stays connected. Messages are UTF-8 text: the gateway closes a
 * socket that sends anything else before a hook sees it. Any transport can
 * listen, and POST /channels/chat.ROOM also speaks. Public API only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples.h"

#define ROOM_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-"
#define ROOM_MAX 120

static const char forbidden[] =
    "{\"type\":\"error\",\"error\":\"forbidden\",\"detail\":\"this server does not let "
    "WebSocket clients publish to that channel (ws_publish)\"}";
static const char not_yours[] =
    "{\"type\":\"error\",\"error\":\"forbidden\",\"detail\":\"not allowed to publish to "
    "this room\"}";

/* One message from a client (data borrowed): published to the room, or
 * refused to the sender. */
static void say(sg_stream *s, const char *data, size_t len, void *ud)
{
	sg_server *srv = ud;
	const char *channel = sg_stream_user(s);
	if (!sg_server_ws_may_publish(srv, channel))
		sg_stream_chunk(s, forbidden, sizeof(forbidden) - 1);
	else if (!sg_stream_may_publish(s, channel))
		sg_stream_chunk(s, not_yours, sizeof(not_yours) - 1);
	else if (sg_server_publish(srv, channel, NULL, data, len) != 0)
		sg_stream_close(s);
}

static void forget_room(sg_stream *s, void *ud)
{
	(void)ud;
	free(sg_stream_user(s));
}

/* Nonzero when room (borrowed) is one channel name's worth: 1 to ROOM_MAX
 * of ROOM_CHARS. A ',' would make "chat.x,secret" a list of two channels. */
static int room_valid(const char *room)
{
	size_t n = strlen(room);
	return n > 0 && n <= ROOM_MAX && strspn(room, ROOM_CHARS) == n;
}

void sg_example_chat(sg_stream *s, const sg_request *req, void *ud)
{
	const char *room = sg_request_path(req) + strlen("/examples/chat/");
	char channel[sizeof("chat.") + ROOM_MAX];
	if (!room_valid(room)) {
		sg_stream_fail(s, 400, "bad_room", "rooms are 1 to 120 of A-Z a-z 0-9 _ . : -");
		return;
	}
	snprintf(channel, sizeof(channel), "chat.%s", room);
	if (sg_stream_authorize_subscribe(s, channel))
		return;
	int rc = sg_stream_subscribe(s, channel, sg_request_query(req, "last_event_id"));
	char *name = rc ? NULL : strdup(channel);
	if (!name) {
		if (rc == SG_EBADID)
			sg_stream_fail(s, 400, "bad_last_event_id", "last_event_id is not a message id");
		else if (rc == SG_ETOOBIG)
			sg_stream_fail(s, 503, "too_many_channels", "the server holds max_channels");
		else if (rc)
			sg_stream_fail(s, 400, "bad_room", "rooms are 1 to 120 of A-Z a-z 0-9 _ . : -");
		else
			sg_stream_fail(s, 503, "out_of_memory", "cannot hold the room");
		return;
	}
	sg_stream_set_user(s, name);
	sg_stream_after_close(s, forget_room, NULL);
	sg_stream_on_message(s, say, ud);
}
