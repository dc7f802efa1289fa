/*
 * test_access_log — the access log without a server: what is redacted in
 * a target, how hostile bytes are escaped in both formats, and that a
 * writer stuck on a full pipe drops and counts lines instead of blocking
 * the caller.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "server/access_log.c"

static void test_target_redacted(void **state)
{
	(void)state;
	char *args[] = {"access_token=abc",   "ticket=t1",    "x=1", "Session_Key=s", "eyJa.b.c",
			"v=eyJhbGc.x.y",      "sig=zz",       "flag", "page=2"};
	sg_request req = {.path = "/channels/a", .nargs = sizeof(args) / sizeof(args[0])};
	for (size_t i = 0; i < req.nargs; i++)
		req.args[i] = args[i];
	char *t = sg__access_log_target(&req);
	assert_string_equal(t, "/channels/a?access_token=REDACTED&ticket=REDACTED&x=1&Session_Key=REDACTED"
			       "&REDACTED&v=REDACTED&sig=REDACTED&flag&page=2");
	free(t);
}

/* Writes e to a fresh log in format fmt and returns the line (static). */
static const char *one_line(const char *fmt, const sg_access_entry *e)
{
	static char line[4096];
	char path[] = "/tmp/sg-test-access-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	sg_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.access_log, sizeof(cfg.access_log), "%s", path);
	snprintf(cfg.access_log_format, sizeof(cfg.access_log_format), "%s", fmt);
	sg_access_log *l;
	char err[128];
	assert_int_equal(sg__access_log_open(&cfg, &l, err, sizeof(err)), 0);
	sg__access_log_write(l, e);
	sg__access_log_free(l); /* writes what is queued */
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	return line;
}

static const sg_access_entry hostile = {
	.client = "10.0.0.1",
	.method = "GET",
	.target = "/a\"b\\c\x01\xff",
	.transport = "ws",
	.status = 101,
	.bytes = 12,
	.duration_us = 1500,
	.messages = 3,
	.reason = "deleted",
};

static void test_json_escaped(void **state)
{
	(void)state;
	const char *line = one_line("json", &hostile);
	const char *rest = strstr(line, "\",\"remote_addr\"");
	assert_non_null(rest);
	assert_string_equal(rest, "\",\"remote_addr\":\"10.0.0.1\",\"method\":\"GET\",\"path\":\"/a\\\"b\\\\c\\u0001\\u00ff\","
				  "\"transport\":\"ws\",\"h2\":false,\"status\":101,\"bytes\":12,\"duration_ms\":1.500,"
				  "\"messages\":3,\"reason\":\"deleted\"}\n");
}

static void test_combined_escaped(void **state)
{
	(void)state;
	const char *line = one_line("combined", &hostile);
	const char *rest = strstr(line, "] \"");
	assert_non_null(rest);
	assert_true(strncmp(line, "10.0.0.1 - - [", 14) == 0);
	assert_string_equal(rest, "] \"GET /a\\x22b\\x5Cc\\x01\\xFF HTTP/1.1\" 101 12 \"-\" \"-\" transport=ws "
				  "duration_ms=1.500 messages=3 reason=deleted\n");
}

typedef struct drained {
	int fd;
	size_t lines;
} drained;

static void *drain_fifo(void *arg)
{
	drained *d = arg;
	char buf[65536];
	ssize_t n;
	while ((n = read(d->fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			d->lines += buf[i] == '\n';
	return NULL;
}

static void test_full_queue_drops(void **state)
{
	(void)state;
	char dir[] = "/tmp/sg-test-fifo-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	drained d = {.fd = open(path, O_RDONLY | O_NONBLOCK)}; /* nobody reads yet */
	assert_true(d.fd >= 0);
	sg_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.access_log, sizeof(cfg.access_log), "%s", path);
	snprintf(cfg.access_log_format, sizeof(cfg.access_log_format), "json");
	sg_access_log *l;
	char err[128];
	assert_int_equal(sg__access_log_open(&cfg, &l, err, sizeof(err)), 0);
	sg_access_entry e = hostile;
	e.reason = NULL;
	const unsigned long n = 20000; /* about 4 MB: over the pipe and the queue */
	for (unsigned long i = 0; i < n; i++)
		sg__access_log_write(l, &e); /* returns at once, the file full or not */
	unsigned long dropped = sg__access_log_dropped(l);
	assert_true(dropped > 0);
	fcntl(d.fd, F_SETFL, 0); /* now read it all, to its end */
	pthread_t reader;
	assert_int_equal(pthread_create(&reader, NULL, drain_fifo, &d), 0);
	sg__access_log_free(l);
	pthread_join(reader, NULL);
	close(d.fd);
	unlink(path);
	rmdir(dir);
	assert_int_equal(d.lines + dropped, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_redacted),
		cmocka_unit_test(test_json_escaped),
		cmocka_unit_test(test_combined_escaped),
		cmocka_unit_test(test_full_queue_drops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
