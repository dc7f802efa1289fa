/*
 * bench — shared declarations of sg-loadgen, the load generator that
 * measures streamgate and its peers (nchan, Pushpin) on loopback.
 * It is a measuring tool, not part of the product: it never links the
 * gateway's code and never talks to anything but 127.0.0.1.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_PAYLOAD_BYTES 64
#define BENCH_MAX_THREADS 8
#define BENCH_HDR_LINE 160 /* longer header lines are truncated: we read few */
#define BENCH_WS_CTL 125   /* largest control frame payload */
#define BENCH_CURSOR 40    /* a message id such as streamgate's MS-SEQ, with its NUL */
#define BENCH_MAX_PORTS 8  /* --port given several times: the nodes of a cluster */

typedef enum { BENCH_SSE, BENCH_CHUNKED, BENCH_WS, BENCH_LONGPOLL } bench_transport;
typedef enum { BENCH_STREAMGATE, BENCH_NCHAN, BENCH_PUSHPIN } bench_target;

/* Everything the command line sets; read-only once the run starts. */
typedef struct bench_opts {
	bench_target target;
	bench_transport transport;
	int port; /* subscribers connect here (the first --port) */
	/* every --port: subscriber i connects to ports[i % nports] */
	int ports[BENCH_MAX_PORTS];
	int nports;
	int pub_port;       /* publishes go here (Pushpin: its control port) */
	int subs;           /* subscribers to open */
	int channels;       /* subscriber i listens to channel i % channels */
	int messages;       /* published round-robin over the channels */
	double rate;        /* publishes per second */
	int ramp_rate;      /* connections opened per second */
	int max_inflight;   /* handshakes in flight at once */
	int threads;        /* subscriber threads, each with its own epoll */
	int pub_conns;      /* keep-alive publishing connections */
	double settle_s;    /* wait after the ramp before publishing */
	double drain_s;     /* wait for stragglers after the last publish */
	double max_s;       /* hard cap on the whole run */
	double ramp_max_s;  /* give up opening after this; 0: twice the ramp's time + 10 s */
	pid_t server_pid;   /* sampled with its descendants from /proc; 0: none */
	const char *prefix; /* channel name prefix */
	int kv;             /* print key=value lines for scripts */
	int perf;           /* count the server's syscalls with perf stat (root) */
	const char *perf_out; /* keep perf's CSV here; NULL: a temporary file */
	/* upstream mode (U1–U3): subscriber i GETs this path with %d = i, the
	 * backend at pub_port makes the messages (--messages per stream, at
	 * --rate each) once POST /start asks; NULL: channels and publishing */
	const char *path_template;
	pid_t backend_pid; /* sampled apart from the server; 0: none */
} bench_opts;

/* ---- hist.c: latency histogram, 1 us to ~16 s, ~1.5 % resolution ---- */
#define BENCH_HIST_SUB 64
#define BENCH_HIST_EXP 25
typedef struct bench_hist {
	uint64_t count;
	uint64_t max_us;
	uint64_t sum_us;
	uint64_t bucket[BENCH_HIST_EXP * BENCH_HIST_SUB];
} bench_hist;

void bench_hist_add(bench_hist *h, uint64_t us);
void bench_hist_merge(bench_hist *into, const bench_hist *from);
/* The value at quantile q (0..1), in microseconds; 0 when empty. */
uint64_t bench_hist_quantile(const bench_hist *h, double q);

/* ---- proto.c: request building and incremental response parsing ---- */

/* Incremental parser of one HTTP/1.1 response head and body framing. */
typedef struct bench_http {
	uint8_t state; /* BENCH_HS_* */
	uint8_t chunked;
	uint8_t conn_close;
	uint8_t ck_state; /* chunk decoder state */
	uint16_t status;
	uint16_t line_len;
	int64_t content_len;       /* -1: none given */
	uint64_t left;             /* bytes left in this chunk or body */
	char cursor[BENCH_CURSOR]; /* Last-Event-ID header, "" when absent */
	char line[BENCH_HDR_LINE];
} bench_http;

enum { BENCH_HS_HEAD, BENCH_HS_BODY, BENCH_HS_DONE, BENCH_HS_ERROR };

/* Finds "seq=N t=T" tokens in a byte stream cut anywhere. */
typedef struct bench_scan {
	uint8_t phase; /* 0 literal "seq=", 1 seq digits, 2 literal " t=", 3 t digits */
	uint8_t pos;   /* within the literal, or digits seen */
	uint64_t seq;
	uint64_t t;
} bench_scan;

/* Incremental parser of server-to-client WebSocket frames (unmasked). */
typedef struct bench_ws {
	uint8_t hlen;   /* header bytes gathered */
	uint8_t need;   /* header bytes needed */
	uint8_t opcode; /* of the frame in progress */
	uint8_t in_payload;
	uint8_t closed; /* a close frame came, or a frame was malformed */
	uint8_t ctl_len;
	uint8_t hdr[14];
	uint64_t left;          /* payload bytes left in the frame */
	char ctl[BENCH_WS_CTL]; /* ping payload, echoed in the pong */
} bench_ws;

/* Called with each message token found: sequence number and send time. */
typedef void (*bench_token_fn)(void *ud, uint64_t seq, uint64_t sent_ns);

void bench_http_reset(bench_http *p);
/* Feeds bytes; body bytes (de-chunked) go to body_fn. Returns bytes used
 * (less than len when the response ended before them), or -1 on a
 * malformed response. */
typedef void (*bench_body_fn)(void *ud, const char *data, size_t len);
ssize_t bench_http_feed(bench_http *p, const char *data, size_t len, bench_body_fn body_fn,
                        void *ud);

void bench_scan_feed(bench_scan *s, const char *data, size_t len, bench_token_fn fn, void *ud);

/* Feeds raw bytes after a 101; payload bytes of data frames go to the
 * scanner. Pings are answered through pong_fn (which must mask). */
typedef void (*bench_pong_fn)(void *ud, const char *payload, size_t len);
void bench_ws_feed(bench_ws *w, bench_scan *s, const char *data, size_t len, bench_token_fn fn,
                   bench_pong_fn pong_fn, void *ud);

/* Writes the payload of message seq sent at sent_ns into out[64]. */
void bench_payload(char out[BENCH_PAYLOAD_BYTES], uint64_t seq, uint64_t sent_ns);

/* Request texts; each returns its length, or -1 when cap is too small. */
/* The path subscriber index (0-based) GETs: the target's channel URL for
 * channel, or --path-template with index. Returns its length, or -1. */
int bench_sub_path(char *out, size_t cap, const bench_opts *o, const char *channel, int index);
int bench_sub_request(char *out, size_t cap, const bench_opts *o, int port, const char *path,
                      const char *cursor, const unsigned char ws_key[16]);
/* The port subscriber i (0-based, over the whole run) connects to. */
int bench_sub_port(const bench_opts *o, int i);
int bench_pub_request(char *out, size_t cap, const bench_opts *o, const char *channel,
                      const char payload[BENCH_PAYLOAD_BYTES]);
void bench_base64(const unsigned char *in, size_t len, char *out);

/* ---- procstat.c: the server's CPU and memory, from /proc ---- */
typedef struct bench_proc {
	int ok;
	int procs;          /* the server process and its descendants */
	uint64_t rss_kib;   /* VmRSS summed */
	uint64_t cpu_ticks; /* utime + stime summed */
	int io_ok;          /* /proc/PID/io was read for every process */
	uint64_t syscr;     /* read-like syscalls (VFS reads: not recv*) summed */
	uint64_t syscw;     /* write-like syscalls (VFS writes: not send*) summed */
} bench_proc;

void bench_proc_sample(pid_t pid, bench_proc *out);
/* pid and its descendants (pid first), at most cap; returns how many. */
int bench_proc_tree(pid_t pid, pid_t *out, int cap);
/* CPU ticks the whole machine spent busy, from /proc/stat; 0 if unknown. */
uint64_t bench_box_busy_ticks(void);
double bench_ticks_per_second(void);

/* ---- perfstat.c: the server's syscalls, counted by `perf stat` ---- */
enum {
	BENCH_SC_ALL,        /* raw_syscalls:sys_enter */
	BENCH_SC_EPOLL_CTL,  /* syscalls:sys_enter_epoll_ctl */
	BENCH_SC_EPOLL_WAIT, /* syscalls:sys_enter_epoll_wait */
	BENCH_SC_SENDTO,     /* send() is sendto() */
	BENCH_SC_WRITEV,
	BENCH_SC_WRITE,
	BENCH_SC_SENDMSG,
	BENCH_SC_COUNT
};
extern const char *const bench_sc_events[BENCH_SC_COUNT];

typedef struct bench_perf {
	pid_t child;      /* perf stat, while it runs */
	int ctl_fd;       /* its --control command pipe */
	int ack_fd;       /* its acknowledgements */
	int tmp;          /* path is ours to unlink */
	int ok;           /* count[] holds what perf counted */
	int procs;        /* processes attached to */
	int64_t count[BENCH_SC_COUNT]; /* -1: not counted */
	char path[256];   /* perf's CSV output */
	char note[160];   /* why there are no counts: "off", "not root", ... */
} bench_perf;

/* Attaches perf stat to pid and its descendants with the events disabled,
 * then enables them and returns once perf acknowledged (bounded: a few
 * seconds). On failure p->note says why and the run goes on without. */
void bench_perf_start(bench_perf *p, const bench_opts *o, pid_t pid); /* pid 0: none */
/* Disables the events, stops perf with SIGINT (bounded, then SIGKILL) and
 * reads its CSV into p->count. */
void bench_perf_stop(bench_perf *p);

/* ---- conn.c: subscriber connections, one epoll loop per thread ---- */
enum { BENCH_PHASE_RAMP, BENCH_PHASE_RUN, BENCH_PHASE_STOP };

/* Counters a thread publishes for the main thread to watch. */
typedef struct bench_live {
	_Atomic uint64_t established;
	_Atomic uint64_t failed;
	_Atomic uint64_t attempted;
	_Atomic uint64_t delivered;
	_Atomic uint64_t last_delivery_ns;
	_Atomic int ramp_done;
} bench_live;

/* What a thread reports once it has stopped. */
typedef struct bench_result {
	uint64_t established;
	uint64_t failed;         /* never got a 200/101 */
	uint64_t refused;        /* of which: answered with another status */
	unsigned refused_status; /* the last such status */
	uint64_t conn_errors;    /* of which: socket or connect failed */
	int conn_errno;          /* the last such errno */
	uint64_t closed_early;   /* of which: closed before answering */
	uint64_t unanswered;     /* of which: still waiting at the end */
	uint64_t unopened;       /* of which: never opened (the ramp ran out of time) */
	uint64_t dropped;        /* established, then cut by the server */
	uint64_t ended;          /* upstream mode: the stream's clean end */
	uint64_t reconnects;     /* long-poll reconnections */
	uint64_t delivered;      /* unique deliveries */
	uint64_t duplicated;
	uint64_t stray; /* a message of another channel */
	uint64_t expected;
	bench_hist hist;
} bench_result;

typedef struct bench_worker bench_worker;

/* Creates the worker for subscribers [first, first + count); caller frees
 * with bench_worker_free after bench_worker_join. */
bench_worker *bench_worker_new(const bench_opts *o, int index, int first, int count,
                               _Atomic int *phase);
int bench_worker_start(bench_worker *w);
void bench_worker_join(bench_worker *w);
bench_live *bench_worker_live(bench_worker *w);
/* Fills res; published[c] is how many messages channel c got. */
void bench_worker_result(bench_worker *w, const uint64_t *published, bench_result *res);
void bench_worker_free(bench_worker *w);

/* ---- publish.c: paced publishing over keep-alive connections ---- */
typedef struct bench_pub_result {
	uint64_t sent;
	uint64_t ok;
	uint64_t failed;
	uint64_t late; /* sent over 50 ms after its schedule */
	uint64_t first_ns;
	uint64_t last_ns;  /* when the last answer came */
	bench_hist answer; /* publish round trip */
} bench_pub_result;

/* Publishes o->messages at o->rate; published[c] counts successes per
 * channel. watch() is called every few ms with the current time. */
typedef void (*bench_watch_fn)(void *ud, uint64_t now_ns);
int bench_publish(const bench_opts *o, uint64_t *published, bench_pub_result *res,
                  bench_watch_fn watch, void *ud);
/* Upstream mode: asks the backend at o->pub_port to start every stream
 * (POST /start?messages=M&rate=R, bounded wait); on a 200, published[c] =
 * M for every stream. Returns 0 on a 200. */
int bench_upstream_start(const bench_opts *o, uint64_t *published, bench_pub_result *res);

/* ---- report.c: the outcome of a run, as text or key=value lines ---- */
extern const char *const bench_target_names[3];
extern const char *const bench_transport_names[4];

/* Samples of the server, the machine and ourselves taken along a run. */
typedef struct bench_samples {
	bench_proc base, idle_start, idle_end, load_start, after;
	uint64_t idle_start_ns, idle_end_ns;
	uint64_t peak_rss_kib;
	uint64_t last_watch_ns;
	double self_load_start_s, self_after_s; /* our own CPU time */
	uint64_t box_load_start, box_after;     /* the machine's busy ticks */
	uint64_t load_start_ns, after_ns;
	pid_t pid;
	bench_proc backend_start, backend_after; /* --backend-pid over the window */
	bench_perf perf; /* syscalls from load_start to after */
} bench_samples;

/* When things happened; end_reason is a static string. */
typedef struct bench_timing {
	uint64_t ramp_ns;
	uint64_t last_delivery_ns;
	const char *end_reason; /* complete, quiet, time_cap, no_messages */
} bench_timing;

void bench_report(const bench_opts *o, const bench_result *t, const bench_pub_result *pub,
                  const bench_samples *s, const bench_timing *tm);

/* ---- small helpers shared by the files ---- */
uint64_t bench_now_ns(void);
void bench_channel_name(char *out, size_t cap, const bench_opts *o, int index);
int bench_connect_loopback(int port); /* non-blocking; -1 on error */
void bench_close_reset(int fd);       /* close with RST: no TIME_WAIT */

#endif
