/*
 * json — message envelopes in and out, through jansson.
 */
#include "json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "streamgate.h"
#include "utf8.h"

static int dump_into(sg_buf *out, json_t *v)
{
	size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!n || sg_buf_reserve(out, n + 1))
		return SG_ENOMEM;
	json_dumpb(v, out->data + out->len, n, JSON_COMPACT | JSON_ENCODE_ANY);
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

int sg_json_quote(sg_buf *out, const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);
	if (!v)
		return SG_EINVAL;
	int rc = dump_into(out, v);
	json_decref(v);
	return rc;
}

int sg_json_envelope(sg_buf *out, const sg_msg *m)
{
	json_t *o = json_object();
	json_t *data = json_stringn(m->data, m->len);
	if (!o || !data) {
		json_decref(o);
		json_decref(data);
		return SG_EINVAL;
	}
	json_object_set_new(o, "channel", json_string(m->channel));
	json_object_set_new(o, "id", m->id ? json_string(m->id) : json_null());
	json_object_set_new(o, "event", m->event ? json_string(m->event) : json_null());
	json_object_set_new(o, "data", data);
	int rc = dump_into(out, o);
	json_decref(o);
	return rc;
}

static char *text_of(json_t *v, size_t *len)
{
	if (json_is_string(v)) {
		*len = json_string_length(v);
		char *s = malloc(*len + 1);
		if (s) {
			memcpy(s, json_string_value(v), *len);
			s[*len] = '\0';
		}
		return s;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	*len = s ? strlen(s) : 0;
	return s;
}

/* The reason goes back to the client inside JSON, so it must be UTF-8:
 * jansson quotes the bytes near an error, which may stop inside a
 * sequence, and snprintf may cut one. Then every non-ASCII byte becomes
 * '?'. */
static void reason_to_utf8(char *err)
{
	if (sg_utf8_valid(err, strlen(err)))
		return;
	for (; *err; err++)
		if ((unsigned char)*err >= 0x80)
			*err = '?';
}

/* Parses text; NULL with the reason, line and column in err. */
static json_t *load(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column,
			 je.text);
		reason_to_utf8(err);
	}
	return root;
}

int sg_json_parse_publish(const char *body, size_t len, sg_json_publish *out, char *err,
			  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	json_t *root = load(body, len, err, errlen);
	if (!root)
		return SG_EINVAL;
	int rc = SG_EINVAL;
	json_t *event = json_object_get(root, "event");
	json_t *data = json_object_get(root, "data");
	json_t *id = json_object_get(root, "id");
	if (!json_is_object(root))
		snprintf(err, errlen, "the envelope must be a JSON object");
	else if (!data)
		snprintf(err, errlen, "the envelope has no \"data\" member");
	else if (event && !json_is_null(event) && !json_is_string(event))
		snprintf(err, errlen, "\"event\" must be a string");
	else if (id && !json_is_null(id) && !json_is_string(id) && !json_is_integer(id))
		snprintf(err, errlen, "\"id\" must be a string or an integer");
	else {
		rc = 0;
		out->data = text_of(data, &out->len);
		if (json_is_string(event))
			out->event = strdup(json_string_value(event));
		if (id && !json_is_null(id)) {
			size_t n;
			out->id = text_of(id, &n);
		}
		if (!out->data) {
			sg_json_publish_free(out);
			rc = SG_ENOMEM;
		}
	}
	json_decref(root);
	return rc;
}

static char *member_string(json_t *o, const char *key, int *bad)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = 1;
		return NULL;
	}
	return strdup(json_string_value(v));
}

int sg_json_parse_command(const char *text, size_t len, sg_json_command *out, char *err,
			  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	json_t *root = load(text, len, err, errlen);
	if (!root)
		return SG_EINVAL;
	int bad = 0;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "a command is a JSON object");
		json_decref(root);
		return SG_EINVAL;
	}
	out->type = member_string(root, "type", &bad);
	out->channel = member_string(root, "channel", &bad);
	out->last_event_id = member_string(root, "last_event_id", &bad);
	out->event = member_string(root, "event", &bad);
	out->token = member_string(root, "token", &bad);
	json_t *data = json_object_get(root, "data");
	if (data)
		out->data = text_of(data, &out->len);
	json_t *ref = json_object_get(root, "ref");
	if (ref)
		out->ref = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(root);
	if (bad || !out->type) {
		snprintf(err, errlen, bad ? "type, channel, last_event_id and event must be strings"
					  : "a command needs a \"type\"");
		char *keep = out->ref; /* for the error reply */
		out->ref = NULL;
		sg_json_command_free(out);
		out->ref = keep;
		return SG_EINVAL;
	}
	return 0;
}

void sg_json_command_free(sg_json_command *c)
{
	free(c->type);
	free(c->channel);
	free(c->last_event_id);
	free(c->event);
	free(c->data);
	free(c->ref);
	free(c->token);
	memset(c, 0, sizeof(*c));
}

void sg_json_publish_free(sg_json_publish *p)
{
	free(p->event);
	free(p->data);
	free(p->id);
	memset(p, 0, sizeof(*p));
}

int sg_json_valid(const char *text, size_t len)
{
	if (!sg_utf8_valid(text, len))
		return 0;
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
	json_decref(v);
	return v != NULL;
}
