/*
 * reload — settings changed while running (SIGHUP, sg_server_reload): each
 * worker applies the live ones on its own loop; the caller may wait.
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access_log.h"
#include "rights.h"
#include "server.h"
#include "tls.h"

/* One sg_server_reload call: the settings, and how many workers have yet
 * to apply them. Freed by the last of the caller and the tasks to let go. */
typedef struct reload_job {
	sg_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t applied;
	size_t pending, refs;
} reload_job;

static void reload_job_unref(reload_job *job)
{
	pthread_mutex_lock(&job->lock);
	size_t refs = --job->refs;
	pthread_mutex_unlock(&job->lock);
	if (refs)
		return;
	pthread_cond_destroy(&job->applied);
	pthread_mutex_destroy(&job->lock);
	free(job);
}

/* Loop thread of srv: takes cfg's live settings. Streams already open
 * keep the queue bound and slow policy they started with. */
static void reload_apply(sg_server *srv, const sg_config *cfg)
{
	size_t retry = srv->cfg.sse_retry_ms;
	sg__config_apply_live(&srv->cfg, cfg);
	srv->stream_limits.queue_bytes = cfg->queue_bytes;
	srv->stream_limits.policy = (sg_slow_policy)cfg->slow_policy;
	sg_hub_limits hl = sg__server_hub_limits(cfg);
	sg_hub_set_limits(srv->hub, &hl);
	sg_frame *preludes[SG_RENDER_SLOTS];
	if (retry != srv->cfg.sse_retry_ms) {
		if (sg__server_preludes_render(srv, preludes) == 0) /* queued ones hold their own ref */
			for (int i = 0; i < SG_RENDER_SLOTS; i++) {
				sg_frame_unref(srv->preludes[i]);
				srv->preludes[i] = preludes[i];
			}
		else
			srv->cfg.sse_retry_ms = retry; /* out of memory: what the preludes say */
	}
	if (srv == srv->group->workers[0]) /* lws' level is one for the process */
		lws_set_log_level(sg__server_log_mask(cfg->log_level), NULL);
}

/* What one worker's reload task needs; the task frees it. */
typedef struct reload_task_arg {
	reload_job *job; /* holds a ref */
	sg_server *srv;
} reload_task_arg;

static void reload_task(void *arg)
{
	reload_task_arg *t = arg;
	reload_job *job = t->job;
	reload_apply(t->srv, &job->cfg);
	free(t);
	pthread_mutex_lock(&job->lock);
	job->pending--;
	pthread_cond_broadcast(&job->applied);
	pthread_mutex_unlock(&job->lock);
	reload_job_unref(job);
}

/* Waits until every worker applied job, a stop is asked (its loop may not
 * run tasks any more), or about 5 s passed (a loop that does not answer). */
static void reload_wait(sg_server *srv, reload_job *job)
{
	pthread_mutex_lock(&job->lock);
	for (int slice = 0; job->pending && !atomic_load(&srv->stop_asked) && slice < 100;
	     slice++) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 50 * 1000 * 1000;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&job->applied, &job->lock, &t);
	}
	pthread_mutex_unlock(&job->lock);
}

int sg_server_reload(sg_server *srv, const sg_config *cfg)
{
	if (!srv || !cfg)
		return SG_EINVAL;
	sg_group *g = srv->group;
	srv = g->workers[0];
	sg__access_log_reopen(g->access_log); /* logrotate moved it: a new file */
	char err[300];
	if (sg__rights_auth_reload(g->auth, cfg, err, sizeof(err))) {
		lwsl_err("reload: %s; keeping the previous settings\n", err);
		return SG_EINVAL;
	}
	if (sg__tls_ctx_reload(g, cfg, err, sizeof(err))) /* new handshakes get the new cert */
		fprintf(stderr, "streamgate: reload: %s; keeping the previous certificate\n", err);
	reload_job *job = calloc(1, sizeof(*job));
	if (!job)
		return SG_ENOMEM;
	job->cfg = *cfg;
	pthread_mutex_init(&job->lock, NULL);
	pthread_cond_init(&job->applied, NULL);
	job->refs = 1;
	int wait = 1, rc = 0;
	for (size_t i = 0; i < g->n; i++) {
		sg_server *w = g->workers[i];
		if (w->loop.on_loop(&w->loop)) { /* our own loop: at once, and no waiting */
			reload_apply(w, &job->cfg);
			wait = 0;
			continue;
		}
		reload_task_arg *arg = malloc(sizeof(*arg));
		if (!arg) {
			rc = SG_ENOMEM;
			continue;
		}
		*arg = (reload_task_arg){.job = job, .srv = w};
		pthread_mutex_lock(&job->lock);
		job->refs++;
		job->pending++;
		pthread_mutex_unlock(&job->lock);
		if (!atomic_load(&w->loop_started))
			wait = 0; /* applied when its loop starts */
		if (w->loop.post(&w->loop, reload_task, arg)) {
			free(arg);
			pthread_mutex_lock(&job->lock);
			job->refs--;
			job->pending--;
			pthread_mutex_unlock(&job->lock);
			rc = SG_ECLOSED;
		}
	}
	if (wait && !rc)
		reload_wait(srv, job);
	reload_job_unref(job);
	return rc;
}

