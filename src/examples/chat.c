/*
 * chat — the rack-stream chat example: /examples/chat/ROOM subscribes to
 * channel "chat.ROOM" (history replayed with ?last_event_id=); what a
 * WebSocket client sends is published to the room. Any transport can
 * listen, and POST /channels/chat.ROOM also speaks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples.h"

static void say(sg_stream *s, const char *data, size_t len, void *ud)
{
	sg_server *srv = ud;
	const char *channel = sg_stream_user(s);
	if (sg_server_publish(srv, channel, NULL, data, len) != 0)
		sg_stream_close(s);
}

static void forget_room(sg_stream *s, void *ud)
{
	(void)ud;
	free(sg_stream_user(s));
}

void sg_example_chat(sg_stream *s, const sg_request *req, void *ud)
{
	const char *room = sg_request_path(req) + strlen("/examples/chat/");
	char channel[160];
	snprintf(channel, sizeof(channel), "chat.%s", room);
	int rc = strlen(room) > 120 ? SG_EINVAL
				    : sg_stream_subscribe(s, channel, sg_request_query(req, "last_event_id"));
	char *name = rc ? NULL : strdup(channel);
	if (!name) {
		if (rc == SG_EBADID)
			sg_stream_fail(s, 400, "bad_last_event_id", "last_event_id is not a message id");
		else
			sg_stream_fail(s, 400, "bad_room", "rooms are 1 to 120 of A-Z a-z 0-9 _ . : -");
		return;
	}
	sg_stream_set_user(s, name);
	sg_stream_after_close(s, forget_room, NULL);
	sg_stream_on_message(s, say, ud);
}
