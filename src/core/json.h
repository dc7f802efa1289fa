/*
 * json — the one room that uses jansson for messages: rendering the JSON
 * envelope of a message and parsing a published envelope.
 */
#ifndef SG_CORE_JSON_H
#define SG_CORE_JSON_H

#include <stddef.h>

#include "buf.h"

struct sg_msg;

/* Appends {"channel","id","event","data"} for m to out. */
int sg_json_envelope(sg_buf *out, const struct sg_msg *m);

/* A publish request body parsed from JSON. Caller frees with
 * sg_json_publish_free. */
typedef struct sg_json_publish {
	char *event; /* NULL when absent */
	char *data;  /* NUL-terminated; a non-string "data" is its JSON text */
	size_t len;
	char *id; /* NULL when absent */
} sg_json_publish;

/* Parses `{"event":..,"data":..,"id":..}`. On error returns SG_EINVAL and
 * writes the reason (with line and column) into err. */
int sg_json_parse_publish(const char *body, size_t len, sg_json_publish *out, char *err,
			  size_t errlen);
void sg_json_publish_free(sg_json_publish *p);

/* A WebSocket command {"type","channel","last_event_id","data","event",
 * "ref","token"}. Caller frees with sg_json_command_free. */
typedef struct sg_json_command {
	char *type, *channel, *last_event_id, *event;
	char *token; /* "refresh": the new token; never logged */
	char *data; /* a non-string "data" is its JSON text; NULL when absent */
	size_t len;
	char *ref; /* the client's "ref" as JSON text, echoed in replies */
} sg_json_command;

/* Parses a command; SG_EINVAL with a reason in err when it is not a JSON
 * object with a string "type" and string (or absent) other members (then
 * only out->ref may be set, for the error reply: free out either way). */
int sg_json_parse_command(const char *text, size_t len, sg_json_command *out, char *err,
			  size_t errlen);
void sg_json_command_free(sg_json_command *c);

/* Nonzero when text[0..len) is one JSON value (any kind) in UTF-8. */
int sg_json_valid(const char *text, size_t len);

/* Appends s as a JSON string literal (quotes included) to out. */
int sg_json_quote(sg_buf *out, const char *s, size_t len);

#endif
