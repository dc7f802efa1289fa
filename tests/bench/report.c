/*
 * report — turns what a run counted and sampled into figures (rates,
 * quantiles, CPU shares, RSS per connection) and prints them, as a text
 * report for people or as key=value lines for compare.sh. It judges
 * nothing: no threshold here makes a run pass or fail.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

const char *const bench_target_names[3] = {"streamgate", "nchan", "pushpin"};
const char *const bench_transport_names[4] = {"sse", "chunked", "ws", "longpoll"};

/* Derived figures; -1 where a figure cannot be had. */
typedef struct figures {
	unsigned long long lost;
	double window_s;  /* first publish to last delivery */
	double per_s;     /* deliveries per second over the window */
	double idle_cpu;  /* server CPU % with the connections idle */
	double cpu_s;     /* server CPU seconds from the first publish to the end */
	double load_cpu;  /* server CPU % over the window */
	double per_cpu_s; /* deliveries per server CPU-second */
	double us_per;    /* server CPU-microseconds per delivery */
	double backend;   /* --backend-pid's CPU % over the window (not the server's) */
	double self_pct;  /* our CPU % over the window */
	double others;    /* CPU % of every other process meanwhile */
	double per_conn;  /* server RSS KiB per established connection */
	/* syscalls over the window: perf's counts, -1 without them */
	long long sc_all, sc_epoll_ctl, sc_write; /* write: sendto+writev+write+sendmsg */
	long long syscr, syscw;                   /* /proc deltas, -1 unknown */
	long long write_calls;                    /* sc_write, else syscw */
	const char *write_from;                   /* "perf", "proc" or "none" */
	double sc_per, write_per, epoll_ctl_per;  /* per delivery */
	double p50, p99, pmax, mean, ans50, ans99, ansmax; /* ms */
} figures;

static double cpu_pct(const bench_proc *a, const bench_proc *b, double seconds)
{
	if (!a->ok || !b->ok || seconds <= 0 || b->cpu_ticks < a->cpu_ticks)
		return -1;
	return 100.0 * (double)(b->cpu_ticks - a->cpu_ticks) / bench_ticks_per_second() / seconds;
}

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static void figure_cpu(figures *f, const bench_samples *s)
{
	double tps = bench_ticks_per_second();
	f->idle_cpu = cpu_pct(&s->idle_start, &s->idle_end,
	                      (double)(s->idle_end_ns - s->idle_start_ns) / 1e9);
	f->cpu_s = -1;
	if (s->load_start.ok && s->after.ok && s->after.cpu_ticks >= s->load_start.cpu_ticks)
		f->cpu_s = (double)(s->after.cpu_ticks - s->load_start.cpu_ticks) / tps;
	f->load_cpu = f->cpu_s >= 0 && f->window_s > 0 ? 100.0 * f->cpu_s / f->window_s : -1;
	double self_s = s->self_after_s - s->self_load_start_s;
	f->self_pct = f->window_s > 0 ? 100.0 * self_s / f->window_s : -1;
	/* what the rest of the machine did meanwhile: noise in these numbers */
	double span = (double)(s->after_ns - s->load_start_ns) / 1e9;
	f->backend = cpu_pct(&s->backend_start, &s->backend_after, span);
	double backend_s = f->backend > 0 ? f->backend * span / 100.0 : 0;
	f->others = -1;
	if (s->box_after && span > 0 && f->cpu_s >= 0) {
		double box_s = (double)(s->box_after - s->box_load_start) / tps;
		f->others = 100.0 * (box_s - f->cpu_s - self_s - backend_s) / span;
	}
}

static double per_delivery(long long n, const bench_result *t)
{
	return n >= 0 && t->delivered ? (double)n / (double)t->delivered : -1;
}

static void figure_syscalls(figures *f, const bench_result *t, const bench_samples *s)
{
	const bench_perf *p = &s->perf;
	f->sc_all = f->sc_epoll_ctl = f->sc_write = -1;
	if (p->ok) {
		f->sc_all = p->count[BENCH_SC_ALL];
		f->sc_epoll_ctl = p->count[BENCH_SC_EPOLL_CTL];
		static const int writes[] = {BENCH_SC_SENDTO, BENCH_SC_WRITEV, BENCH_SC_WRITE,
		                             BENCH_SC_SENDMSG};
		f->sc_write = 0;
		for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
			if (p->count[writes[i]] < 0) {
				f->sc_write = -1;
				break;
			}
			f->sc_write += p->count[writes[i]];
		}
	}
	f->syscr = f->syscw = -1;
	if (s->load_start.io_ok && s->after.io_ok && s->after.procs == s->load_start.procs &&
	    s->after.syscr >= s->load_start.syscr && s->after.syscw >= s->load_start.syscw) {
		f->syscr = (long long)(s->after.syscr - s->load_start.syscr);
		f->syscw = (long long)(s->after.syscw - s->load_start.syscw);
	}
	f->write_calls = f->sc_write >= 0 ? f->sc_write : f->syscw;
	f->write_from = f->sc_write >= 0 ? "perf" : f->syscw >= 0 ? "proc" : "none";
	f->sc_per = per_delivery(f->sc_all, t);
	f->write_per = per_delivery(f->write_calls, t);
	f->epoll_ctl_per = per_delivery(f->sc_epoll_ctl, t);
}

static void compute(figures *f, const bench_result *t, const bench_pub_result *pub,
                    const bench_samples *s, const bench_timing *tm)
{
	memset(f, 0, sizeof(*f));
	f->lost = t->expected > t->delivered ? t->expected - t->delivered : 0;
	if (pub->first_ns && tm->last_delivery_ns > pub->first_ns)
		f->window_s = (double)(tm->last_delivery_ns - pub->first_ns) / 1e9;
	f->per_s = f->window_s > 0 ? (double)t->delivered / f->window_s : 0;
	figure_cpu(f, s);
	f->per_cpu_s = f->cpu_s > 0 ? (double)t->delivered / f->cpu_s : -1;
	f->us_per = f->cpu_s >= 0 && t->delivered ? f->cpu_s * 1e6 / (double)t->delivered : -1;
	f->per_conn = -1;
	if (t->established && s->base.ok)
		f->per_conn = ((double)s->idle_end.rss_kib - (double)s->base.rss_kib) /
		              (double)t->established;
	f->p50 = ms(bench_hist_quantile(&t->hist, 0.50));
	f->p99 = ms(bench_hist_quantile(&t->hist, 0.99));
	f->pmax = ms(t->hist.max_us);
	f->mean = t->hist.count ? (double)t->hist.sum_us / (double)t->hist.count / 1000.0 : 0;
	f->ans50 = ms(bench_hist_quantile(&pub->answer, 0.50));
	f->ans99 = ms(bench_hist_quantile(&pub->answer, 0.99));
	f->ansmax = ms(pub->answer.max_us);
	figure_syscalls(f, t, s);
}

#define U(x) ((unsigned long long)(x))

static void print_kv(const bench_opts *o, const bench_result *t, const bench_pub_result *pub,
                     const bench_samples *s, const bench_timing *tm, const figures *f)
{
	printf("target=%s\ntransport=%s\nsubs=%d\nchannels=%d\nmessages=%d\nrate=%g\n",
	       bench_target_names[o->target], bench_transport_names[o->transport], o->subs,
	       o->channels, o->messages, o->rate);
	printf("sub_ports=%d\n", o->nports);
	printf("established=%llu\nfailed=%llu\nrefused=%llu\nrefused_status=%u\n"
	       "conn_errors=%llu\nconn_error=%s\nclosed_early=%llu\nunanswered=%llu\n"
	       "unopened=%llu\ndropped=%llu\nended=%llu\nreconnects=%llu\nramp_s=%.2f\n",
	       U(t->established), U(t->failed), U(t->refused), t->refused_status, U(t->conn_errors),
	       t->conn_errors ? strerror(t->conn_errno) : "none", U(t->closed_early),
	       U(t->unanswered), U(t->unopened), U(t->dropped), U(t->ended), U(t->reconnects),
	       (double)tm->ramp_ns / 1e9);
	printf("delivered=%llu\nexpected=%llu\nlost=%llu\nduplicated=%llu\nstray=%llu\n",
	       U(t->delivered), U(t->expected), f->lost, U(t->duplicated), U(t->stray));
	printf("end=%s\nwindow_s=%.3f\ndeliveries_per_s=%.0f\n", tm->end_reason, f->window_s,
	       f->per_s);
	printf("lat_p50_ms=%.3f\nlat_p99_ms=%.3f\nlat_max_ms=%.3f\nlat_mean_ms=%.3f\n", f->p50,
	       f->p99, f->pmax, f->mean);
	printf("pub_ok=%llu\npub_failed=%llu\npub_late=%llu\npub_answer_p50_ms=%.3f\n"
	       "pub_answer_p99_ms=%.3f\npub_answer_max_ms=%.3f\n",
	       U(pub->ok), U(pub->failed), U(pub->late), f->ans50, f->ans99, f->ansmax);
	printf("server_procs=%d\nrss_base_kib=%llu\nrss_idle_kib=%llu\nrss_peak_kib=%llu\n"
	       "rss_after_kib=%llu\nrss_per_conn_kib=%.2f\n",
	       s->idle_end.procs, U(s->base.rss_kib), U(s->idle_end.rss_kib), U(s->peak_rss_kib),
	       U(s->after.rss_kib), f->per_conn);
	printf("cpu_idle_pct=%.1f\ncpu_load_pct=%.1f\ncpu_load_s=%.2f\n"
	       "deliveries_per_cpu_s=%.0f\nloadgen_cpu_pct=%.1f\nothers_cpu_pct=%.1f\n",
	       f->idle_cpu, f->load_cpu, f->cpu_s, f->per_cpu_s, f->self_pct, f->others);
	printf("cpu_us_per_delivery=%.3f\nbackend_cpu_pct=%.1f\n", f->us_per, f->backend);
	const bench_perf *p = &s->perf;
	printf("server_syscalls=%lld\nserver_syscalls_per_delivery=%.4f\n"
	       "server_write_syscalls=%lld\nserver_write_syscalls_per_delivery=%.4f\n"
	       "server_write_syscalls_from=%s\n"
	       "server_epoll_ctl=%lld\nserver_epoll_ctl_per_delivery=%.4f\n"
	       "server_epoll_wait=%lld\nserver_sendto=%lld\nserver_writev=%lld\n"
	       "server_write=%lld\nserver_sendmsg=%lld\nserver_syscr=%lld\nserver_syscw=%lld\n"
	       "perf=%s\nperf_procs=%d\n",
	       f->sc_all, f->sc_per, f->write_calls, f->write_per, f->write_from, f->sc_epoll_ctl,
	       f->epoll_ctl_per, (long long)p->count[BENCH_SC_EPOLL_WAIT],
	       (long long)p->count[BENCH_SC_SENDTO], (long long)p->count[BENCH_SC_WRITEV],
	       (long long)p->count[BENCH_SC_WRITE], (long long)p->count[BENCH_SC_SENDMSG], f->syscr,
	       f->syscw, p->note, p->procs);
}

static void print_text(const bench_opts *o, const bench_result *t, const bench_pub_result *pub,
                       const bench_samples *s, const bench_timing *tm, const figures *f)
{
	printf("sg-loadgen: %s over %s, %d subscribers on %d channel(s), %d messages at %g/s\n",
	       bench_target_names[o->target], bench_transport_names[o->transport], o->subs,
	       o->channels, o->messages, o->rate);
	printf("connections  %llu established, %llu dropped later, %llu ended by the upstream "
	       "(ramp %.2f s)\n",
	       U(t->established), U(t->dropped), U(t->ended), (double)tm->ramp_ns / 1e9);
	if (t->failed)
		printf("failed       %llu: %llu refused (last HTTP %u), %llu connect errors (%s), "
		       "%llu closed before answering, %llu unanswered, %llu never opened\n",
		       U(t->failed), U(t->refused), t->refused_status, U(t->conn_errors),
		       t->conn_errors ? strerror(t->conn_errno) : "none", U(t->closed_early),
		       U(t->unanswered), U(t->unopened));
	printf("deliveries   %llu/%llu, %llu lost, %llu duplicated, %llu stray; %.0f/s over %.2f s"
	       " (%s)\n",
	       U(t->delivered), U(t->expected), f->lost, U(t->duplicated), U(t->stray), f->per_s,
	       f->window_s, tm->end_reason);
	printf("latency      p50 %.3f ms, p99 %.3f ms, max %.3f ms, mean %.3f ms\n", f->p50, f->p99,
	       f->pmax, f->mean);
	printf("publishing   %llu ok, %llu failed, %llu late; answer p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
	       U(pub->ok), U(pub->failed), U(pub->late), f->ans50, f->ans99, f->ansmax);
	printf("sg-loadgen   %.1f %% CPU under load; other processes on the machine %.1f %%\n",
	       f->self_pct, f->others);
	if (s->backend_start.ok)
		printf("backend      %.1f %% CPU under load (not counted as the server's)\n",
		       f->backend);
	if (!s->base.ok) {
		printf("server       not sampled (no --server-pid)\n");
		return;
	}
	printf("server RSS   %.1f MiB before, %.1f MiB with the connections idle (%.2f KiB each),"
	       " %.1f MiB peak, %.1f MiB after\n",
	       (double)s->base.rss_kib / 1024, (double)s->idle_end.rss_kib / 1024, f->per_conn,
	       (double)s->peak_rss_kib / 1024, (double)s->after.rss_kib / 1024);
	printf("server CPU   %.1f %% idle, %.1f %% under load (%.2f CPU-s, %.0f deliveries per "
	       "CPU-second, %.2f CPU-us per delivery), %d process(es)\n",
	       f->idle_cpu, f->load_cpu, f->cpu_s, f->per_cpu_s, f->us_per, s->idle_end.procs);
	if (f->sc_all >= 0)
		printf("syscalls     %lld by the server while publishing (%.3f per delivery), "
		       "%.3f write-like per delivery (sendto+writev+write+sendmsg), %lld epoll_ctl "
		       "(%.4f per delivery), %lld epoll_wait; /proc syscr %lld, syscw %lld\n",
		       f->sc_all, f->sc_per, f->write_per, f->sc_epoll_ctl, f->epoll_ctl_per,
		       (long long)s->perf.count[BENCH_SC_EPOLL_WAIT], f->syscr, f->syscw);
	else
		printf("syscalls     perf: %s; /proc while publishing: syscr %lld, syscw %lld "
		       "(%.3f per delivery; send/sendto/sendmsg are not in syscw)\n",
		       s->perf.note, f->syscr, f->syscw, f->write_per);
}

void bench_report(const bench_opts *o, const bench_result *t, const bench_pub_result *pub,
                  const bench_samples *s, const bench_timing *tm)
{
	figures f;
	compute(&f, t, pub, s, tm);
	if (o->kv)
		print_kv(o, t, pub, s, tm, &f);
	else
		print_text(o, t, pub, s, tm, &f);
}
