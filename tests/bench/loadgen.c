/*
 * sg-loadgen — opens N subscribers to a streaming server on 127.0.0.1
 * (SSE, chunked, WebSocket or long-poll), publishes M messages at rate R
 * with a send timestamp inside, and reports what arrived, how late, and
 * what the server spent (CPU, RSS and read/write syscalls from /proc; all
 * its syscalls from perf with --perf). This file holds the command line
 * and the phases of a run (report.c prints the outcome); it never fails on
 * timing: the exit status says only whether the run could be made.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define WATCH_EVERY_NS 200000000ull

typedef struct run {
	bench_opts o;
	_Atomic int phase;
	bench_worker *workers[BENCH_MAX_THREADS];
	uint64_t *published; /* per channel */
	bench_pub_result pub;
	bench_result total;
	bench_samples smp;
	bench_timing timing;
	uint64_t deadline_ns; /* the hard end of the run */
} run;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sg-loadgen --port N [options]\n"
	        "  --target streamgate|nchan|pushpin   URL and publish formats (streamgate)\n"
	        "  --transport sse|chunked|ws|longpoll (sse)\n"
	        "  --port N           subscribers connect to 127.0.0.1:N; given several times\n"
	        "                     (up to %d: the nodes of a cluster), subscriber i connects\n"
	        "                     to the (i %% count)-th\n"
	        "  --pub-port N       publishes go to 127.0.0.1:N (the first --port)\n"
	        "  --subs N           subscribers (1000)\n"
	        "  --channels N       subscriber i listens to channel i %% N (1)\n"
	        "  --messages N       messages, round-robin over the channels (100)\n"
	        "  --rate R           publishes per second (100)\n"
	        "  --ramp-rate N      connections opened per second (2000)\n"
	        "  --max-inflight N   handshakes in flight at once (100)\n"
	        "  --threads N        subscriber threads, 1..%d (1)\n"
	        "  --pub-conns N      keep-alive publishing connections (1)\n"
	        "  --settle S         idle seconds between the ramp and publishing (1)\n"
	        "  --drain S          give up after S seconds without a delivery (5)\n"
	        "  --max-time S       hard cap on the whole run (120)\n"
	        "  --ramp-time S      stop opening connections after S seconds\n"
	        "                     (twice the ramp's own time + 10)\n"
	        "  --server-pid PID   sample this process and its descendants from /proc\n"
	        "  --prefix NAME      channel name prefix, [A-Za-z0-9_] (bN)\n"
	        "  --kv               print key=value lines instead of the text report\n"
	        "  --perf             count the server's syscalls over the publish window with\n"
	        "                     perf stat on syscall tracepoints (root; off)\n"
	        "  --perf-out FILE    keep perf's CSV in FILE (a temporary file, removed)\n"
	        "  --path-template P  upstream mode: subscriber i GETs P with %%d = i (e.g. /u/%%d),\n"
	        "                     each its own stream; nothing is published: POST /start\n"
	        "                     to --pub-port (the backend) makes --messages per stream\n"
	        "                     at --rate each, numbered per stream\n"
	        "  --backend-pid PID  sample the backend's CPU apart from the server's\n",
	        BENCH_MAX_PORTS, BENCH_MAX_THREADS);
}

static int parse_enum(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return i;
	return -1;
}

static int name_ok(const char *s)
{
	if (!*s || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z')))
			return 0;
	return 1;
}

/* A path with exactly one %d and no other conversion, of URL-safe bytes. */
static int template_ok(const char *t)
{
	int convs = 0;
	if (t[0] != '/' || strlen(t) > 200)
		return 0;
	for (const char *p = t; *p; p++) {
		if (*p == '%') {
			if (p[1] != 'd')
				return 0;
			convs++;
			p++;
		} else if (*p <= ' ' || *p >= 127) {
			return 0;
		}
	}
	return convs == 1;
}

static int check_opts(const bench_opts *o)
{
	const char *bad = NULL;
	int ports_ok = o->nports >= 1;
	for (int i = 0; i < o->nports; i++)
		ports_ok &= o->ports[i] > 0 && o->ports[i] <= 65535;
	if (o->nports > BENCH_MAX_PORTS)
		bad = "--port is given too many times";
	else if (!ports_ok || o->pub_port <= 0 || o->pub_port > 65535)
		bad = "--port (and --pub-port) must be 1..65535";
	else if (o->subs < 0 || o->subs > 1000000)
		bad = "--subs must be 0..1000000";
	else if (o->channels < 1 || o->channels > 1000000)
		bad = "--channels must be 1..1000000";
	else if (o->messages < 0 || o->messages > 10000000)
		bad = "--messages must be 0..10000000";
	else if (!(o->rate >= 0.1 && o->rate <= 1e6))
		bad = "--rate must be 0.1..1000000";
	else if (o->ramp_rate < 1 || o->max_inflight < 1)
		bad = "--ramp-rate and --max-inflight must be positive";
	else if (o->threads < 1 || o->threads > BENCH_MAX_THREADS)
		bad = "--threads is out of range";
	else if (o->pub_conns < 1 || o->pub_conns > 64)
		bad = "--pub-conns must be 1..64";
	else if (!(o->settle_s >= 0 && o->drain_s >= 0 && o->ramp_max_s >= 0 && o->max_s > 0 &&
	           o->max_s <= 3600))
		bad = "--settle, --drain, --ramp-time, --max-time must be >= 0 (max-time 1..3600)";
	else if (!name_ok(o->prefix))
		bad = "--prefix must be 1..64 of [A-Za-z0-9_]";
	else if (o->transport == BENCH_LONGPOLL && o->target != BENCH_STREAMGATE)
		bad = "--transport longpoll is only wired for --target streamgate";
	else if (o->path_template && !template_ok(o->path_template))
		bad = "--path-template must be a path with one %d and no other %";
	else if (o->path_template && o->channels != o->subs)
		bad = "--path-template gives every subscriber its own stream: no --channels";
	if (bad)
		fprintf(stderr, "sg-loadgen: %s\n", bad);
	return bad ? -1 : 0;
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
	static char prefix[32];
	snprintf(prefix, sizeof(prefix), "b%d", (int)getpid());
	*o = (bench_opts){.target = BENCH_STREAMGATE,
	                  .transport = BENCH_SSE,
	                  .subs = 1000,
	                  .channels = 1,
	                  .messages = 100,
	                  .rate = 100,
	                  .ramp_rate = 2000,
	                  .max_inflight = 100,
	                  .threads = 1,
	                  .pub_conns = 1,
	                  .settle_s = 1,
	                  .drain_s = 5,
	                  .max_s = 120,
	                  .prefix = prefix};
	static const struct option opts[] = {
	    {"target", 1, 0, 'T'},       {"transport", 1, 0, 't'},  {"port", 1, 0, 'p'},
	    {"pub-port", 1, 0, 'P'},     {"subs", 1, 0, 'n'},       {"channels", 1, 0, 'c'},
	    {"messages", 1, 0, 'm'},     {"rate", 1, 0, 'r'},       {"ramp-rate", 1, 0, 'R'},
	    {"max-inflight", 1, 0, 'i'}, {"threads", 1, 0, 'j'},    {"pub-conns", 1, 0, 'C'},
	    {"settle", 1, 0, 's'},       {"drain", 1, 0, 'd'},      {"max-time", 1, 0, 'x'},
	    {"ramp-time", 1, 0, 'a'},    {"server-pid", 1, 0, 'S'}, {"prefix", 1, 0, 'f'},
	    {"kv", 0, 0, 'k'},           {"help", 0, 0, 'h'},       {"perf", 0, 0, 'E'},
	    {"perf-out", 1, 0, 'o'},     {"path-template", 1, 0, 'u'},
	    {"backend-pid", 1, 0, 'B'},  {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'T':
			o->target = (bench_target)parse_enum(optarg, bench_target_names, 3);
			break;
		case 't':
			o->transport =
			    (bench_transport)parse_enum(optarg, bench_transport_names, 4);
			break;
		case 'p':
			if (o->nports < BENCH_MAX_PORTS)
				o->ports[o->nports] = atoi(optarg);
			o->nports++;
			break;
		case 'P':
			o->pub_port = atoi(optarg);
			break;
		case 'n':
			o->subs = atoi(optarg);
			break;
		case 'c':
			o->channels = atoi(optarg);
			break;
		case 'm':
			o->messages = atoi(optarg);
			break;
		case 'r':
			o->rate = atof(optarg);
			break;
		case 'R':
			o->ramp_rate = atoi(optarg);
			break;
		case 'i':
			o->max_inflight = atoi(optarg);
			break;
		case 'j':
			o->threads = atoi(optarg);
			break;
		case 'C':
			o->pub_conns = atoi(optarg);
			break;
		case 's':
			o->settle_s = atof(optarg);
			break;
		case 'd':
			o->drain_s = atof(optarg);
			break;
		case 'a':
			o->ramp_max_s = atof(optarg);
			break;
		case 'x':
			o->max_s = atof(optarg);
			break;
		case 'S':
			o->server_pid = (pid_t)atoi(optarg);
			break;
		case 'f':
			o->prefix = optarg;
			break;
		case 'k':
			o->kv = 1;
			break;
		case 'E':
			o->perf = 1;
			break;
		case 'o':
			o->perf_out = optarg;
			break;
		case 'u':
			o->path_template = optarg;
			break;
		case 'B':
			o->backend_pid = (pid_t)atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	o->port = o->nports > 0 ? o->ports[0] : 0;
	if (o->path_template && o->channels == 1)
		o->channels = o->subs; /* one stream each */
	if (!o->pub_port)
		o->pub_port = o->port;
	if ((int)o->target < 0 || (int)o->transport < 0) {
		fprintf(stderr, "sg-loadgen: unknown --target or --transport\n");
		return -1;
	}
	if (optind < argc) {
		usage(stderr);
		return -1;
	}
	return check_opts(o);
}

/* Raises the open-file limit to the hard limit; fails if it cannot hold
 * the subscribers. */
static int raise_nofile(const bench_opts *o)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((rlim_t)o->subs + 64u > rl.rlim_cur) {
		fprintf(stderr,
		        "sg-loadgen: %d subscribers need more than the %llu open files allowed\n",
		        o->subs, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

/* CPU seconds this process (every thread) has used. */
static double self_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
	                      .tv_nsec = (long)(ns % 1000000000u)};
	nanosleep(&ts, NULL);
}

static uint64_t sum_live(run *r, int what, int *all_ramped)
{
	uint64_t v = 0;
	int ramped = 1;
	for (int i = 0; i < r->o.threads; i++) {
		bench_live *l = bench_worker_live(r->workers[i]);
		ramped &= atomic_load(&l->ramp_done);
		if (what == 0)
			v += atomic_load(&l->established);
		else if (what == 1)
			v += atomic_load(&l->delivered);
		else {
			uint64_t t = atomic_load(&l->last_delivery_ns);
			v = t > v ? t : v;
		}
	}
	if (all_ramped)
		*all_ramped = ramped;
	return v;
}

/* Called from the publishing loop and the drain: peak RSS. */
static void watch(void *ud, uint64_t now)
{
	run *r = ud;
	if (now - r->smp.last_watch_ns < WATCH_EVERY_NS)
		return;
	r->smp.last_watch_ns = now;
	bench_proc p;
	bench_proc_sample(r->smp.pid, &p);
	if (p.rss_kib > r->smp.peak_rss_kib)
		r->smp.peak_rss_kib = p.rss_kib;
}

static void phase_ramp(run *r)
{
	uint64_t start = bench_now_ns();
	double ramp_s =
	    r->o.ramp_max_s > 0 ? r->o.ramp_max_s : 2.0 * r->o.subs / r->o.ramp_rate + 10.0;
	uint64_t limit = start + (uint64_t)(ramp_s * 1e9);
	if (limit > r->deadline_ns)
		limit = r->deadline_ns;
	int ramped = 0;
	while (!ramped && bench_now_ns() < limit) {
		sleep_ns(10000000u);
		sum_live(r, 0, &ramped);
	}
	r->timing.ramp_ns = bench_now_ns() - start;
	atomic_store(&r->phase, BENCH_PHASE_RUN);
}

static void phase_idle(run *r)
{
	r->smp.idle_start_ns = bench_now_ns();
	bench_proc_sample(r->smp.pid, &r->smp.idle_start);
	uint64_t left = (uint64_t)(r->o.settle_s * 1e9);
	if (r->smp.idle_start_ns + left > r->deadline_ns)
		left = r->deadline_ns > r->smp.idle_start_ns ? r->deadline_ns - r->smp.idle_start_ns
		                                             : 0;
	sleep_ns(left);
	r->smp.idle_end_ns = bench_now_ns();
	bench_proc_sample(r->smp.pid, &r->smp.idle_end);
	r->smp.peak_rss_kib = r->smp.idle_end.rss_kib;
}

/* Deliveries to wait for: exact when every subscriber is established. */
static uint64_t drain_target(run *r)
{
	uint64_t t = 0;
	for (int c = 0; c < r->o.channels; c++) {
		uint64_t subs_on_c = (uint64_t)(r->o.subs / r->o.channels) +
		                     (c < r->o.subs % r->o.channels ? 1u : 0u);
		t += r->published[c] * subs_on_c;
	}
	return t;
}

static void phase_publish(run *r)
{
	/* perf first: its start-up (bounded) stays out of the window */
	bench_perf_start(&r->smp.perf, &r->o, r->o.messages > 0 ? r->smp.pid : 0);
	bench_proc_sample(r->smp.pid, &r->smp.load_start);
	bench_proc_sample(r->o.backend_pid, &r->smp.backend_start);
	r->smp.self_load_start_s = self_cpu_s();
	r->smp.box_load_start = bench_box_busy_ticks();
	r->smp.load_start_ns = bench_now_ns();
	if (r->o.messages > 0 && r->o.path_template)
		bench_upstream_start(&r->o, r->published, &r->pub);
	else if (r->o.messages > 0)
		bench_publish(&r->o, r->published, &r->pub, watch, r);
	uint64_t target = drain_target(r);
	r->timing.end_reason = r->o.messages > 0 ? "time_cap" : "no_messages";
	uint64_t last = sum_live(r, 1, NULL), progress_ns = bench_now_ns();
	while (r->o.messages > 0) {
		uint64_t now = bench_now_ns();
		uint64_t got = sum_live(r, 1, NULL);
		if (got != last) {
			last = got;
			progress_ns = now;
		}
		if (got >= target) {
			r->timing.end_reason = "complete";
			break;
		}
		if (now - progress_ns > (uint64_t)(r->o.drain_s * 1e9)) {
			r->timing.end_reason = "quiet"; /* nothing came for drain_s */
			break;
		}
		if (now > r->deadline_ns) {
			r->timing.end_reason = "time_cap"; /* still arriving at --max-time */
			break;
		}
		watch(r, now);
		sleep_ns(5000000u);
	}
	r->timing.last_delivery_ns = sum_live(r, 2, NULL);
	r->smp.self_after_s = self_cpu_s();
	r->smp.box_after = bench_box_busy_ticks();
	r->smp.after_ns = bench_now_ns();
	bench_proc_sample(r->smp.pid, &r->smp.after);
	bench_proc_sample(r->o.backend_pid, &r->smp.backend_after);
	bench_perf_stop(&r->smp.perf);
	if (r->smp.after.rss_kib > r->smp.peak_rss_kib)
		r->smp.peak_rss_kib = r->smp.after.rss_kib;
}

static int run_all(run *r)
{
	const bench_opts *o = &r->o;
	r->published = calloc((size_t)o->channels, sizeof(*r->published));
	if (!r->published)
		return -1;
	r->smp.pid = o->server_pid;
	r->timing.end_reason = "not_run";
	r->deadline_ns = bench_now_ns() + (uint64_t)(o->max_s * 1e9);
	bench_proc_sample(r->smp.pid, &r->smp.base);
	atomic_store(&r->phase, BENCH_PHASE_RAMP);
	int started = 0, rc = 0;
	for (int i = 0; i < o->threads; i++) {
		int first = (int)((long long)o->subs * i / o->threads);
		int next = (int)((long long)o->subs * (i + 1) / o->threads);
		r->workers[i] = bench_worker_new(o, i, first, next - first, &r->phase);
		if (!r->workers[i] || bench_worker_start(r->workers[i]) < 0) {
			rc = -1;
			break;
		}
		started++;
	}
	if (rc == 0) {
		phase_ramp(r);
		phase_idle(r);
		phase_publish(r);
	}
	atomic_store(&r->phase, BENCH_PHASE_STOP);
	for (int i = 0; i < o->threads; i++) {
		if (!r->workers[i])
			continue;
		bench_worker_join(r->workers[i]);
		if (i < started) {
			bench_result part;
			bench_worker_result(r->workers[i], r->published, &part);
			r->total.established += part.established;
			r->total.failed += part.failed;
			r->total.dropped += part.dropped;
			r->total.ended += part.ended;
			r->total.refused += part.refused;
			if (part.refused)
				r->total.refused_status = part.refused_status;
			r->total.conn_errors += part.conn_errors;
			if (part.conn_errors)
				r->total.conn_errno = part.conn_errno;
			r->total.closed_early += part.closed_early;
			r->total.unanswered += part.unanswered;
			r->total.unopened += part.unopened;
			r->total.reconnects += part.reconnects;
			r->total.delivered += part.delivered;
			r->total.duplicated += part.duplicated;
			r->total.stray += part.stray;
			r->total.expected += part.expected;
			bench_hist_merge(&r->total.hist, &part.hist);
		}
		bench_worker_free(r->workers[i]);
	}
	if (started < o->threads)
		fprintf(stderr, "sg-loadgen: cannot start the subscriber threads\n");
	return rc;
}

int main(int argc, char **argv)
{
	static run r; /* large: histograms */
	if (parse_args(argc, argv, &r.o) < 0 || raise_nofile(&r.o) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (run_all(&r) < 0)
		return 1;
	bench_report(&r.o, &r.total, &r.pub, &r.smp, &r.timing);
	free(r.published);
	return 0;
}
