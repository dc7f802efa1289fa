/*
 * principal — the registered claims of a verified token checked against
 * the settings (libjwt 1.10 checks none of them), and the "streamgate"
 * claim turned into pattern lists:
 *   "streamgate": {"subscribe": [...], "publish": [...], "admin": true}
 */
#include "principal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "patterns.h"
#include "streamgate/error.h"

/* A NumericDate is seconds; past year ~5000 it is nonsense, and would
 * overflow milliseconds. */
#define DATE_MAX 1e11

/* *ms from claim name of root: 0 when present and sane, 1 when absent,
 * -1 when not a NumericDate. */
static int claim_date(json_t *root, const char *name, long long *ms)
{
	json_t *v = json_object_get(root, name);
	if (!v)
		return 1;
	if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > DATE_MAX)
		return -1;
	*ms = (long long)(json_number_value(v) * 1000.0);
	return 0;
}

/* exp, nbf and iat at now_ms, each with leeway. */
static const char *check_dates(json_t *root, const sg_claim_rules *r, long long now_ms,
			       long long *exp_ms)
{
	long long t;
	int rc = claim_date(root, "exp", exp_ms);
	if (rc < 0)
		return "exp is not a NumericDate";
	if (rc == 1)
		*exp_ms = 0;
	else if (now_ms >= *exp_ms + r->leeway_ms)
		return "the token has expired (exp)";
	if ((rc = claim_date(root, "nbf", &t)) < 0)
		return "nbf is not a NumericDate";
	if (rc == 0 && now_ms + r->leeway_ms < t)
		return "the token is not valid yet (nbf)";
	if ((rc = claim_date(root, "iat", &t)) < 0)
		return "iat is not a NumericDate";
	if (rc == 0 && now_ms + r->leeway_ms < t)
		return "the token was issued in the future (iat)";
	return NULL;
}

static const char *check_issuer_audience(json_t *root, const sg_claim_rules *r)
{
	if (r->issuer && *r->issuer) {
		json_t *iss = json_object_get(root, "iss");
		if (!json_is_string(iss) || strcmp(json_string_value(iss), r->issuer) != 0)
			return "wrong issuer (iss)";
	}
	if (r->audience && *r->audience) {
		json_t *aud = json_object_get(root, "aud"), *v;
		size_t i;
		if (json_is_string(aud))
			return strcmp(json_string_value(aud), r->audience) == 0 ? NULL
										: "wrong audience (aud)";
		json_array_foreach(aud, i, v) /* no-op unless an array */
		{
			if (json_is_string(v) && strcmp(json_string_value(v), r->audience) == 0)
				return NULL;
		}
		return "wrong audience (aud)";
	}
	return NULL;
}

/* One right's array of patterns into out; absent: none. */
static const char *read_patterns(json_t *claim, const char *name, const char *sub, sg_buf *out)
{
	json_t *list = json_object_get(claim, name), *v;
	size_t i;
	if (sg_buf_reserve(out, 1))
		return "out of memory";
	out->data[0] = '\0';
	if (!list)
		return NULL;
	if (!json_is_array(list))
		return "streamgate claim: subscribe and publish are arrays of patterns";
	json_array_foreach(list, i, v)
	{
		if (!json_is_string(v))
			return "streamgate claim: a pattern is not a string";
		int rc = sg_pattern_append(out, json_string_value(v), json_string_length(v), sub);
		if (rc == SG_ETOOBIG)
			return "streamgate claim: more than 64 patterns";
		if (rc)
			return "streamgate claim: a pattern is not a channel name or a prefix ending in *";
	}
	return NULL;
}

static const char *read_rights(json_t *root, sg_principal *p)
{
	json_t *claim = json_object_get(root, "streamgate");
	json_t *sub = json_object_get(root, "sub");
	if (sub && !json_is_string(sub))
		return "sub is not a string";
	if (sub && json_string_length(sub) > SG_SUB_MAX)
		return "sub is longer than 255 bytes";
	if (sub && strlen(json_string_value(sub)) != json_string_length(sub))
		return "sub holds a NUL";
	if (sub)
		strcpy(p->sub, json_string_value(sub));
	if (claim && !json_is_object(claim))
		return "the streamgate claim is not an object";
	json_t *admin = json_object_get(claim, "admin");
	if (admin && !json_is_boolean(admin))
		return "streamgate claim: admin is not a boolean";
	p->admin = json_is_true(admin);
	sg_buf s = SG_BUF_INIT, pub = SG_BUF_INIT;
	const char *why = read_patterns(claim, "subscribe", sub ? p->sub : NULL, &s);
	if (!why)
		why = read_patterns(claim, "publish", sub ? p->sub : NULL, &pub);
	p->subscribe = s.data;
	p->publish = pub.data;
	return why;
}

sg_principal *sg_principal_from_claims(const char *json, size_t len, const sg_claim_rules *rules,
				       long long now_ms, const char **detail)
{
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	sg_principal *p = NULL;
	if (!json_is_object(root)) {
		*detail = "the payload is not a JSON object";
	} else if (!(p = calloc(1, sizeof(*p)))) {
		*detail = "out of memory";
	} else if (!(*detail = check_dates(root, rules, now_ms, &p->exp_ms)) &&
		   !(*detail = check_issuer_audience(root, rules))) {
		*detail = read_rights(root, p);
	}
	json_decref(root);
	if (p && *detail) {
		sg_principal_free(p);
		p = NULL;
	}
	return p;
}

sg_principal *sg_principal_invalid(const char *detail)
{
	sg_principal *p = calloc(1, sizeof(*p));
	if (p)
		p->invalid = detail;
	return p;
}

sg_principal *sg_principal_trusted(void)
{
	sg_principal *p = calloc(1, sizeof(*p));
	if (p && (!(p->subscribe = strdup("*")) || !(p->publish = strdup("*")))) {
		sg_principal_free(p);
		return NULL;
	}
	if (p)
		p->trusted = p->admin = 1;
	return p;
}

sg_principal *sg_principal_dup(const sg_principal *p)
{
	sg_principal *d = malloc(sizeof(*d));
	if (!d)
		return NULL;
	*d = *p;
	d->subscribe = strdup(p->subscribe ? p->subscribe : "");
	d->publish = strdup(p->publish ? p->publish : "");
	if (!d->subscribe || !d->publish) {
		sg_principal_free(d);
		return NULL;
	}
	return d;
}

void sg_principal_free(sg_principal *p)
{
	if (!p)
		return;
	free(p->subscribe);
	free(p->publish);
	free(p);
}

int sg_principal_may(const sg_principal *p, sg_right right, const char *channel)
{
	if (p->invalid)
		return 0;
	if (p->trusted || (right == SG_RIGHT_ADMIN && p->admin))
		return 1;
	if (right == SG_RIGHT_ADMIN)
		return 0;
	return sg_patterns_match(right == SG_RIGHT_SUBSCRIBE ? p->subscribe : p->publish, channel);
}
