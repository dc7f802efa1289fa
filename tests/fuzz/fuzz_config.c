/*
 * fuzz_config — a JSON settings file through sg_config_load_text, the one
 * path sg_config_load_file also takes. Input: the file's bytes. Checks:
 * whatever is applied (all of it, or a prefix before an error) keeps every
 * setting within its documented bounds; an error names the file and a
 * line; an accepted file leaves a config that, written back out as JSON
 * and loaded into fresh defaults, gives the same settings; "listen"
 * splits into a host that fits and a port in 0..65535, or is refused.
 */
#include <stdint.h>

#include "fuzz_world.h"
#include "server/config.c"

/* Every setting is in bounds: text NUL-terminated, sizes within the table. */
static void check_bounds(const sg_config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const char *field = (const char *)cfg + keys[i].offset;
		if (keys[i].kind == KEY_TEXT) {
			SG_FUZZ_CHECK(memchr(field, '\0', keys[i].size) != NULL);
		} else if (keys[i].kind == KEY_SIZE) {
			size_t v = *(const size_t *)field;
			SG_FUZZ_CHECK(v >= keys[i].min && v <= keys[i].max);
		} else {
			int v = *(const int *)field;
			SG_FUZZ_CHECK(v == SG_SLOW_DROP_OLDEST || v == SG_SLOW_DISCONNECT);
		}
	}
}

/* cfg as a JSON config file. Caller frees. */
static char *config_json(const sg_config *cfg)
{
	json_t *o = json_object();
	SG_FUZZ_CHECK(o != NULL);
	for (size_t i = 0; i < NKEYS; i++) {
		const char *field = (const char *)cfg + keys[i].offset;
		json_t *v;
		if (keys[i].kind == KEY_TEXT)
			v = json_string(field); /* NULL when not UTF-8: a failure */
		else if (keys[i].kind == KEY_SIZE)
			v = json_integer((json_int_t) * (const size_t *)field);
		else
			v = json_string(*(const int *)field == SG_SLOW_DISCONNECT ? "disconnect"
			                                                          : "drop_oldest");
		SG_FUZZ_CHECK(v != NULL);
		json_object_set_new(o, keys[i].name, v);
	}
	char *text = json_dumps(o, JSON_INDENT(1));
	SG_FUZZ_CHECK(text != NULL);
	json_decref(o);
	return text;
}

static void check_same(const sg_config *a, const sg_config *b)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const char *x = (const char *)a + keys[i].offset,
		           *y = (const char *)b + keys[i].offset;
		if (keys[i].kind == KEY_TEXT)
			SG_FUZZ_CHECK(strcmp(x, y) == 0);
		else if (keys[i].kind == KEY_SIZE)
			SG_FUZZ_CHECK(*(const size_t *)x == *(const size_t *)y);
		else
			SG_FUZZ_CHECK(*(const int *)x == *(const int *)y);
	}
}

static void check_listen(const sg_config *cfg)
{
	char host[64];
	int port = -1;
	if (sg__config_listen_split(cfg, host, sizeof(host), &port) == 0) {
		SG_FUZZ_CHECK(port >= 0 && port <= 65535);
		SG_FUZZ_CHECK(strlen(host) < sizeof(host));
		SG_FUZZ_CHECK(strncmp(cfg->listen, host, strlen(host)) == 0 &&
		              cfg->listen[strlen(host)] == ':');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	sg_config *cfg = sg_config_new();
	SG_FUZZ_CHECK(cfg != NULL);
	char err[256];
	int rc = sg_config_load_text(cfg, (const char *)in, size, "fuzz.json", err, sizeof(err));
	check_bounds(cfg);
	check_listen(cfg);
	if (rc) {
		SG_FUZZ_CHECK(rc == SG_EINVAL && strncmp(err, "fuzz.json:", 10) == 0);
		SG_FUZZ_CHECK(err[10] >= '0' && err[10] <= '9');
	} else {
		SG_FUZZ_CHECK(err[0] == '\0');
		char *text = config_json(cfg);
		sg_config *again = sg_config_new();
		SG_FUZZ_CHECK(again != NULL);
		SG_FUZZ_CHECK(sg_config_load_text(again, text, strlen(text), "again.json", err,
		                                  sizeof(err)) == 0);
		check_same(cfg, again);
		sg_config_free(again);
		free(text);
	}
	sg_config_free(cfg);
	return 0;
}
