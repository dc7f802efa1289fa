/*
 * group — the workers of one gateway and what they share: the listening
 * sockets (every worker its own, on one port with SO_REUSEPORT), the
 * admission tables, tokens and the TLS certificate, and the start-up
 * checks, secure-by-default among them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "access_log.h"
#include "chan_stats.h"
#include "admit.h"
#include "auth/auth.h"
#include "listen.h"
#include "rights.h"
#include "server.h"
#include "tls.h"
#include "upstream/client_tls.h"

static void group_free(sg_group *g);

/* metrics_listen or grip_publish_listen (flag says which): a socket of
 * its own for every worker, as the first. */
static int side_open(sg_group *g, const char *key, const char *addr, unsigned flag, char *err,
		     size_t errlen)
{
	char host[128];
	int port;
	if (sg__config_addr_split(addr, host, sizeof(host), &port)) {
		snprintf(err, errlen, "%s: expected HOST:PORT, got \"%s\"", key, addr);
		return SG_EINVAL;
	}
	for (size_t i = 0; i < g->n; i++) {
		sg_server *w = g->workers[i];
		int *fd = flag == SG_LISTEN_GRIP ? &w->grip_fd : &w->metrics_fd;
		struct sg_listener **l =
		    flag == SG_LISTEN_GRIP ? &w->grip_listener : &w->metrics_listener;
		*fd = sg__listen_open(host, port, i == 0, err, errlen);
		if (*fd < 0)
			return SG_EIO;
		if (i == 0 && flag == SG_LISTEN_GRIP) { /* publishing with no token */
			char bound[64];
			if (sg__listen_host(*fd, bound, sizeof(bound))) {
				snprintf(err, errlen, "%s: cannot read the bound address", key);
				return SG_EINVAL;
			}
			if (sg__rights_trusted_check(key, bound, err, errlen))
				return SG_EINVAL;
		}
		port = sg__listen_port(*fd); /* port 0: the first picks, the others share */
		if (!(*l = sg__listen_start(w, *fd, flag))) {
			snprintf(err, errlen, "out of memory");
			return SG_ENOMEM;
		}
	}
	return 0;
}

/* What the workers share for admission: trusted_proxies, connections per
 * IP, publish rates. */
static int admission_shared(sg_group *g, const sg_config *cfg, char *err, size_t errlen)
{
	char why[200] = "";
	int rc = sg__cidr_list_parse(cfg->trusted_proxies, &g->trusted_proxies, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "trusted_proxies: %s", why[0] ? why : "out of memory");
		return rc;
	}
	if (!(g->ips = sg__ip_table_new()) || !(g->rates = sg__rate_table_new())) {
		snprintf(err, errlen, "out of memory");
		return SG_ENOMEM;
	}
	return 0;
}

static size_t workers_wanted(const sg_config *cfg)
{
	if (cfg->workers)
		return cfg->workers;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	return cores > 0 ? (size_t)cores : 1;
}

/* Secure by default: each listening address, judged on what its name
 * resolved to, must be loopback unless access control is set. */
static int exposure_check(sg_group *g, const sg_config *cfg, char *err, size_t errlen)
{
	const struct {
		const char *key;
		int fd;
	} bound[] = {{"listen", g->workers[0]->listen_fd}, {"tls_listen", g->workers[0]->tls_fd}};
	for (size_t i = 0; i < sizeof(bound) / sizeof(bound[0]); i++) {
		char host[64];
		if (bound[i].fd < 0)
			continue;
		if (sg__listen_host(bound[i].fd, host, sizeof(host))) {
			snprintf(err, errlen, "%s: cannot read the bound address", bound[i].key);
			return SG_EINVAL;
		}
		if (sg__rights_exposure_check(cfg, bound[i].key, host, err, errlen))
			return SG_EINVAL;
	}
	return 0;
}

/* Opens worker i's socket on addr (HOST:PORT; "" : none, fd -1): the
 * first picks the port (when 0), the others share first_port. */
static int listen_addr(const char *key, const char *addr, size_t i, int first_port, int *fd,
		       char *err, size_t errlen)
{
	char host[128];
	int port;
	*fd = -1;
	if (!addr[0])
		return 0;
	if (sg__config_addr_split(addr, host, sizeof(host), &port)) {
		snprintf(err, errlen, "%s: expected HOST:PORT, got \"%s\"", key, addr);
		return SG_EINVAL;
	}
	*fd = sg__listen_open(host, i ? first_port : port, i == 0, err, errlen);
	return *fd < 0 ? SG_EIO : 0;
}

sg_server *sg_server_new(const sg_config *cfg, char *err, size_t errlen)
{
	if (!cfg->listen[0] && !cfg->tls_listen[0]) {
		snprintf(err, errlen, "listen and tls_listen are both empty: nothing to listen on");
		return NULL;
	}
	size_t n = workers_wanted(cfg);
	sg_group *g = calloc(1, sizeof(*g));
	if (g && !(g->auth = sg__rights_auth_new(cfg, err, errlen))) {
		group_free(g);
		return NULL;
	}
	if (!g || !(g->workers = calloc(n, sizeof(*g->workers))) ||
	    !(g->threads = calloc(n, sizeof(*g->threads))) || (n > 1 && !(g->bus = sg_bus_new()))) {
		group_free(g);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->n = n;
	if (admission_shared(g, cfg, err, errlen) ||
	    (cfg->tls_listen[0] && sg__tls_ctx_init(g, cfg, err, errlen)) ||
	    sg__up_tls_ctxs_init(g->up_tls, cfg, err, errlen)) {
		group_free(g);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		int fd, tfd = -1;
		int rc = listen_addr("listen", cfg->listen, i, i ? g->workers[0]->port : 0, &fd, err,
				     errlen);
		if (!rc)
			rc = listen_addr("tls_listen", cfg->tls_listen, i,
					 i ? g->workers[0]->tls_port : 0, &tfd, err, errlen);
		if (rc && fd >= 0)
			close(fd);
		if (rc || !sg__worker_new(cfg, g, i, fd, tfd, err, errlen)) { /* it closes both */
			group_free(g);
			return NULL;
		}
		g->workers[i]->port = fd >= 0 ? sg__listen_port(fd) : 0;
		g->workers[i]->tls_port = tfd >= 0 ? sg__listen_port(tfd) : 0;
	}
	if (exposure_check(g, cfg, err, errlen)) {
		group_free(g);
		return NULL;
	}
	if (!(g->chan_snaps = sg__chan_snaps_new(n))) {
		snprintf(err, errlen, "out of memory");
		group_free(g);
		return NULL;
	}
	if ((cfg->metrics_listen[0] && side_open(g, "metrics_listen", cfg->metrics_listen,
						 SG_LISTEN_METRICS, err, errlen)) ||
	    (cfg->grip_publish_listen[0] && side_open(g, "grip_publish_listen",
						      cfg->grip_publish_listen, SG_LISTEN_GRIP,
						      err, errlen)) ||
	    sg__access_log_open(cfg, &g->access_log, err, errlen)) {
		group_free(g);
		return NULL;
	}
	return g->workers[0];
}

/* What key's address (HOST:PORT, not "") resolves to, as text in ip: the
 * address sg__listen_open would bind. 0, or SG_EINVAL with err set. */
static int addr_resolve(const char *key, const char *addr, char *ip, size_t iplen, char *err,
			size_t errlen)
{
	char host[128], why[200];
	int port;
	if (sg__config_addr_split(addr, host, sizeof(host), &port)) {
		snprintf(err, errlen, "%s: expected HOST:PORT, got \"%s\"", key, addr);
		return SG_EINVAL;
	}
	if (sg__listen_resolve(host, ip, iplen, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", key, why);
		return SG_EINVAL;
	}
	return 0;
}

int sg__server_check(const sg_config *cfg, char *err, size_t errlen)
{
	if (!cfg->listen[0] && !cfg->tls_listen[0]) {
		snprintf(err, errlen, "listen and tls_listen are both empty: nothing to listen on");
		return SG_EINVAL;
	}
	sg_group *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return SG_ENOMEM;
	}
	int rc = (g->auth = sg__rights_auth_new(cfg, err, errlen)) ? 0 : SG_EINVAL;
	if (!rc)
		rc = admission_shared(g, cfg, err, errlen);
	if (!rc && cfg->tls_listen[0])
		rc = sg__tls_ctx_init(g, cfg, err, errlen);
	if (!rc)
		rc = sg__up_tls_ctxs_init(g->up_tls, cfg, err, errlen);
	/* each address as bound, then secure-by-default on it (exposure_check) */
	const struct {
		const char *key, *addr;
		int exposed, trusted; /* exposure_check; publishes with no token */
	} addrs[] = {{"listen", cfg->listen, 1, 0},
		     {"tls_listen", cfg->tls_listen, 1, 0},
		     {"metrics_listen", cfg->metrics_listen, 0, 0},
		     {"grip_publish_listen", cfg->grip_publish_listen, 0, 1}};
	for (size_t i = 0; !rc && i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		char ip[64];
		if (!addrs[i].addr[0])
			continue;
		rc = addr_resolve(addrs[i].key, addrs[i].addr, ip, sizeof(ip), err, errlen);
		if (!rc && addrs[i].exposed)
			rc = sg__rights_exposure_check(cfg, addrs[i].key, ip, err, errlen);
		if (!rc && addrs[i].trusted)
			rc = sg__rights_trusted_check(addrs[i].key, ip, err, errlen);
	}
	for (size_t i = 0; !rc && i < cfg->nupstreams; i++)
		if (cfg->upstreams[i].auth == SG_UP_AUTH_REQUIRE && !cfg->auth_jwt_alg[0]) {
			snprintf(err, errlen,
				 "upstreams[%zu]: \"auth\": \"require\" needs auth_jwt_alg (no token "
				 "could ever be valid)",
				 i);
			rc = SG_EINVAL;
		}
	group_free(g);
	return rc;
}

/* Frees every worker (the last first: the first holds the routes), then
 * the bus they shared. */
static void group_free(sg_group *g)
{
	if (!g)
		return;
	for (size_t i = g->n; i-- > 0;)
		if (g->workers[i])
			sg__worker_free(g->workers[i]);
	sg_bus_free(g->bus);
	sg_auth_free(g->auth);
	sg__cidr_list_free(&g->trusted_proxies);
	sg__ip_table_free(g->ips);
	sg__rate_table_free(g->rates);
	sg__tls_ctx_free(g);
	sg__up_tls_ctxs_free(g->up_tls, SG_UPSTREAMS_MAX);
	sg__access_log_free(g->access_log); /* after the workers: their last lines */
	sg__chan_snaps_free(g->chan_snaps);
	free(g->workers);
	free(g->threads);
	free(g);
}

void sg_server_free(sg_server *srv)
{
	if (srv)
		group_free(srv->group);
}

